// The e-journal's own linking window (guide mode), screen by screen as the guide shows it:
// «Мессенджер не подключен» → «Вход в VK ID» → «Проверьте учетные данные» / «Ваш профиль для
// связки» → password → «Подтвердите вход» (call-reset or SMS, with its timer) → «Информация о
// себе» → «Добавление профиля Сферум» («Отмена» / «Привязать»). It drives the same backend flow
// as the bot, through the page's /api/journal/{account}/window (the e-journal's side, same rules
// and budgets). Loaded after app.js; uses its el(), api(), state and language.
"use strict";

const VKID_TEXT = {
  ru: {
    vkid_service: "С сервисом «МЭШ.ВКС» можно связать свой учебный профиль",
    vkid_b1: "Вход в учебный профиль в VK Мессенджере по VK ID",
    vkid_b2: "Общение в защищенном от посторонних лиц пространстве",
    vkid_b3: "Регистрация ВКонтакте не нужна, а если аккаунт уже есть, его никто не увидит",
    vkid_login: "Вход в VK ID", vkid_phone: "Телефон или почта", vkid_continue: "Продолжить",
    vkid_terms: "Нажимая «Продолжить», вы принимаете пользовательское соглашение и политику конфиденциальности",
    vkid_check: "Проверьте учетные данные", vkid_create: "Создать учебный профиль",
    vkid_no_profile: "Учебного профиля на этот номер ещё нет — он будет создан.",
    vkid_password_title: "Введите пароль", vkid_password: "Пароль",
    vkid_forgot: "Забыли или не установили пароль?",
    vkid_forgot_note: "Восстановить пароль можно в чате с помощником: «Забыли или не установили пароль?» там ведёт по шагам.",
    vkid_confirm: "Подтвердите вход",
    vkid_call: "Вам поступит звонок-сброс с уникального номера. Введите последние 4 цифры этого номера",
    vkid_sms: "Мы отправили SMS с кодом на номер",
    vkid_code4: "Введите 4 цифры", vkid_code: "Введите код",
    vkid_call_in: "Звонок поступит в течение", vkid_sms_in: "Отправить SMS через",
    vkid_to_sms: "Получить код по SMS", vkid_again_call: "Запросить звонок ещё раз", vkid_to_call: "Получить код звонком",
    vkid_again_sms: "Отправить SMS ещё раз", vkid_wrong_number: "Если вы ошиблись в номере, измените его и запросите код заново.",
    vkid_change: "Изменить номер",
    vkid_profile_title: "Ваш профиль для связки", vkid_profile_kind: "Учебный профиль",
    vkid_other: "Войти в другой аккаунт",
    vkid_about: "Информация о себе", vkid_full_name: "ФИО", vkid_birth: "Дата рождения",
    vkid_gender: "Пол", vkid_female: "Женский", vkid_male: "Мужской",
    vkid_consent_title: "Добавление профиля Сферум",
    vkid_consent_text: "Вы действительно хотите привязать аккаунт «Сферум» к вашей учетной записи?",
    vkid_cancel: "Отмена", vkid_link: "Привязать",
    vkid_linked_title: "Привязка профиля к платформе «Сферум»",
    vkid_linked_text: "Ваш учебный профиль Сферум в VK Мессенджере успешно привязан к вашей учетной записи в электронном журнале.",
    vkid_cancelled: "Привязка отменена. Мессенджер не подключен.",
    vkid_close: "Закрыть", vkid_window: "Окно привязки · электронный журнал",
    err_code_invalid: "Неверный код.", err_wrong_password: "Неверный пароль.",
    err_vpn_detected: "Привязка не работает при включенном VPN. Отключите VPN и попробуйте снова.",
    err_attempts: "Осталось попыток:", err_wait: "Попробуйте через",
    err_phone_mismatch: "Этот номер не указан в вашем профиле электронного журнала.",
    err_phone_invalid: "Проверьте номер телефона.", err_code_burnt: "Код больше не действует: запросите новый.",
    err_code_expired: "Срок действия кода истёк: запросите новый.",
    err_password_locked: "Слишком много попыток входа по паролю.",
    err_resend_too_early: "Новый код пока запросить нельзя.",
    err_invalid_personal_data: "Проверьте ФИО и дату рождения.",
    err_other: "Не получилось:",
    rec_title: "Восстановление пароля", rec_phone: "Укажите телефон или почту",
    rec_no_access: "Я не помню данные или к ним нет доступа",
    rec_code: "Введите код", rec_sms_sent: "SMS с кодом отправлено на телефон", rec_send: "Отправить",
    rec_sms_in: "Отправить SMS через", rec_sms_again: "Отправить SMS ещё раз",
    rec_check: "Проверка аккаунта", rec_is_it_you: "Это ваш аккаунт?", rec_yes: "Да, это мой аккаунт", rec_no: "Нет, это не я",
    rec_how: "Как вы хотите подтвердить, что аккаунт принадлежит вам?",
    rec_totp: "С помощью приложения-генератора кодов", rec_totp_hint: "Будет необходимо ввести код из приложения",
    rec_email: "С помощью электронной почты", rec_email_hint: "Мы отправим код на почту",
    rec_friends: "С помощью друзей, которым доверяете", rec_friends_hint: "Если вы можете связаться с друзьями вне ВКонтакте — например, позвонить или написать в мессенджерах",
    rec_email_code: "Введите код из письма", rec_email_sent: "Мы отправили код на почту", rec_confirm: "Подтвердить",
    rec_email_in: "Отправить код повторно", rec_app_code: "Введите код из приложения",
    rec_friends_text: "Друзья, которым вы доверяете, получат коды. Попросите их и напишите помощнику в чат, если нужна помощь специалиста.",
    rec_new: "Придумайте новый пароль", rec_new_field: "Введите новый пароль", rec_repeat_field: "Повторите новый пароль",
    rec_rules: "Минимум 8 символов — заглавные и строчные буквы, цифры и спецсимволы (! \" # $ % ' () *)",
    rec_logout: "Выйти на всех устройствах, кроме этого", rec_done: "Пароль изменён. Войдите в VK ID с новым паролем.",
    rec_done_in: "Пароль изменён, и VK ID впустил вас с ним. Остался код подтверждения.",
    rec_back: "Назад ко входу",
    err_weak_password: "Пароль слишком простой.", err_password_mismatch: "Пароли не совпадают.",
    err_unknown_account: "На этот номер нет VK ID.",
  },
  en: {
    vkid_service: "You can link your study profile with the «МЭШ.ВКС» service",
    vkid_b1: "Sign in to the study profile in VK Messenger with VK ID",
    vkid_b2: "Talk in a space protected from outsiders",
    vkid_b3: "No VKontakte registration needed; an account you already have stays invisible",
    vkid_login: "Sign in to VK ID", vkid_phone: "Phone or e-mail", vkid_continue: "Continue",
    vkid_terms: "By pressing «Continue» you accept the user agreement and the privacy policy",
    vkid_check: "Check the account details", vkid_create: "Create a study profile",
    vkid_no_profile: "There is no study profile on this number yet: it will be created.",
    vkid_password_title: "Enter the password", vkid_password: "Password",
    vkid_forgot: "Forgot or never set a password?",
    vkid_forgot_note: "Restore the password in the chat with the assistant: «Forgot or never set a password?» there walks you through it.",
    vkid_confirm: "Confirm the sign-in",
    vkid_call: "A reset call will come from a unique number. Enter the last 4 digits of that number",
    vkid_sms: "We sent an SMS with a code to",
    vkid_code4: "Enter 4 digits", vkid_code: "Enter the code",
    vkid_call_in: "The call will come within", vkid_sms_in: "Send an SMS in",
    vkid_to_sms: "Get the code by SMS", vkid_again_call: "Ask for the call again", vkid_to_call: "Get the code by a call",
    vkid_again_sms: "Send the SMS again", vkid_wrong_number: "If the number is wrong, change it and ask for the code again.",
    vkid_change: "Change the number",
    vkid_profile_title: "Your profile for linking", vkid_profile_kind: "Study profile",
    vkid_other: "Sign in to another account",
    vkid_about: "About you", vkid_full_name: "Full name", vkid_birth: "Date of birth",
    vkid_gender: "Gender", vkid_female: "Female", vkid_male: "Male",
    vkid_consent_title: "Adding a Sferum profile",
    vkid_consent_text: "Do you really want to link the Sferum account to your account?",
    vkid_cancel: "Cancel", vkid_link: "Link",
    vkid_linked_title: "Profile linked to the Sferum platform",
    vkid_linked_text: "Your Sferum study profile in VK Messenger is linked to your e-journal account.",
    vkid_cancelled: "Linking cancelled. The messenger is not connected.",
    vkid_close: "Close", vkid_window: "Linking window · e-journal",
    err_code_invalid: "Wrong code.", err_wrong_password: "Wrong password.",
    err_vpn_detected: "Linking does not work with a VPN on. Turn the VPN off and try again.",
    err_attempts: "Attempts left:", err_wait: "Try again in",
    err_phone_mismatch: "This number is not the one in your e-journal profile.",
    err_phone_invalid: "Check the phone number.", err_code_burnt: "The code no longer works: ask for a new one.",
    err_code_expired: "The code has expired: ask for a new one.",
    err_password_locked: "Too many password attempts.",
    err_resend_too_early: "A new code cannot be requested yet.",
    err_invalid_personal_data: "Check the full name and the date of birth.",
    err_other: "That did not work:",
    rec_title: "Password recovery", rec_phone: "Enter the phone or e-mail",
    rec_no_access: "I don't remember the details or have no access to them",
    rec_code: "Enter the code", rec_sms_sent: "An SMS with a code was sent to", rec_send: "Send",
    rec_sms_in: "Send an SMS in", rec_sms_again: "Send the SMS again",
    rec_check: "Checking the account", rec_is_it_you: "Is this your account?", rec_yes: "Yes, it is my account", rec_no: "No, it is not me",
    rec_how: "How do you want to confirm the account is yours?",
    rec_totp: "With a code-generator app", rec_totp_hint: "You will enter a code from the app",
    rec_email: "With the e-mail", rec_email_hint: "We will send a code to",
    rec_friends: "With friends you trust", rec_friends_hint: "If you can reach your friends outside VKontakte — call them or write in a messenger",
    rec_email_code: "Enter the code from the e-mail", rec_email_sent: "We sent a code to", rec_confirm: "Confirm",
    rec_email_in: "Send the code again in", rec_app_code: "Enter the code from the app",
    rec_friends_text: "Friends you trust will get codes. Ask them, and write to the assistant in the chat if you need a specialist.",
    rec_new: "Make up a new password", rec_new_field: "New password", rec_repeat_field: "Repeat the new password",
    rec_rules: "At least 8 characters: capital and small letters, digits and special characters (! \" # $ % ' () *)",
    rec_logout: "Sign out on every device but this one", rec_done: "The password is changed. Sign in to VK ID with the new password.",
    rec_done_in: "The password is changed, and VK ID has let you in with it. Only the confirmation code is left.",
    rec_back: "Back to signing in",
    err_weak_password: "The password is too simple.", err_password_mismatch: "The passwords do not match.",
    err_unknown_account: "There is no VK ID on this number.",
  },
};

function vt(key) { return (VKID_TEXT[state.lang] || VKID_TEXT.ru)[key] || VKID_TEXT.ru[key] || key; }

// `values`: what she typed, kept across re-renders (a refusal redraws the screen); passwords
// and codes are not kept.
const vkid = { mesh: null, flow: null, recovery: null, note: null, error: null, screen: null, busy: false, timer: null, poll: null, values: {} };
const VKID_SECRET_FIELDS = new Set(["password", "code", "new_password", "repeat_password"]);

// «Перейти к подключению»: the window opens on the flow the bot opened; with none, the bot.
async function openVkidWindowOrBot(teacher, openBot) {
  const answer = await api(`/api/journal/${encodeURIComponent(teacher.mesh_account_id)}/window`,
    { json: { action: "peek" } });
  if (!answer.flow) return openBot();
  vkid.mesh = teacher.mesh_account_id;
  vkid.flow = answer.flow;
  vkid.error = null;
  vkid.screen = answer.flow.state === "phone" ? "vkid_phone" : null;
  document.body.dataset.guide = "on";
  setTab("mesh");
  if (vkid.screen) await vkidAct("screen", { screen: vkid.screen });
  renderVkid();
  clearInterval(vkid.poll);
  vkid.poll = setInterval(() => { if (!vkid.busy && vkid.flow) vkidAct("read", {}, true); }, 3000);
}

function closeVkid() {
  clearInterval(vkid.poll);
  clearInterval(vkid.timer);
  vkid.mesh = vkid.flow = null;
  delete document.body.dataset.guide;
  renderVkid();
  refreshTeachers().catch(() => {});
}

async function vkidAct(action, fields = {}, quiet = false) {
  if (!vkid.mesh) return;
  vkid.busy = true;
  try {
    const recoveryId = vkid.recovery && vkid.recovery.recovery_id;
    const answer = await api(`/api/journal/${encodeURIComponent(vkid.mesh)}/window`, {
      json: { action, flow_id: vkid.flow && vkid.flow.flow_id, recovery_id: recoveryId, ...fields },
    });
    let moved = !vkid.flow || !answer.flow || answer.flow.state !== vkid.flow.state;
    if (moved && !answer.error) vkid.note = null;
    if (answer.recovery) {
      moved = moved || !vkid.recovery || answer.recovery.state !== vkid.recovery.state;
      vkid.recovery = answer.recovery;
      if (["done", "cancelled"].includes(answer.recovery.state)) {
        // A recovery from this flow's password screen signs the flow in: on to the code.
        const signedIn = answer.flow && answer.flow.state === "code";
        vkid.note = answer.recovery.state === "done" ? vt(signedIn ? "rec_done_in" : "rec_done") : null;
        vkid.recovery = null;
        vkid.screen = "password";
      }
    }
    if (answer.flow) vkid.flow = answer.flow;
    if (!quiet || answer.error) vkid.error = answer.error;
    if (moved && !answer.error) {
      vkid.error = null;
      vkid.values = {};
      if (action !== "screen" && !action.startsWith("recovery")) vkid.screen = null;
    }
  } finally {
    vkid.busy = false;
  }
  if (!(quiet && document.activeElement && document.activeElement.closest("#vkid-window"))) renderVkid();
}

function vkidError() {
  const error = vkid.error;
  if (!error) return null;
  let text = VKID_TEXT.ru[`err_${error.code}`] ? vt(`err_${error.code}`) : `${vt("err_other")} ${error.detail}`;
  if (error.attempts_left !== null && error.attempts_left !== undefined) text += ` ${vt("err_attempts")} ${error.attempts_left}.`;
  if (error.retry_after) text += ` ${vt("err_wait")} ${clock(error.retry_after)}.`;
  return el("div", { class: "vkid-error", role: "alert", dataset: { code: error.code } }, text);
}

function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function vkidHeader() {
  return el("div", { class: "vkid-head" },
    el("div", { class: "vkid-logo" }, "VK ID"),
    el("div", { class: "vkid-service" }, vt("vkid_service")),
    el("ul", { class: "vkid-bullets" }, el("li", {}, vt("vkid_b1")), el("li", {}, vt("vkid_b2")), el("li", {}, vt("vkid_b3"))));
}

function form(onSubmit, ...children) {
  return el("form", { class: "vkid-form", onsubmit: (event) => { event.preventDefault(); onSubmit(new FormData(event.target)); } }, ...children);
}

function field(name, label, attrs = {}) {
  const kept = VKID_SECRET_FIELDS.has(name) ? undefined : vkid.values[name];
  const input = el("input", { name, autocomplete: "off", ...attrs, value: kept ?? attrs.value });
  input.addEventListener("input", () => { if (!VKID_SECRET_FIELDS.has(name)) vkid.values[name] = input.value; });
  return el("label", { class: "vkid-field" }, el("span", {}, label), input);
}

function vkidScreen() {
  const flow = vkid.flow;
  const masked = flow.phone_masked || "";
  switch (flow.state) {
    case "phone":
      return [vkidHeader(), el("h3", {}, vt("vkid_login")),
        form((data) => vkidAct("phone", { phone: data.get("phone") }),
          field("phone", vt("vkid_phone"), { inputmode: "tel", placeholder: "+7 916 123-45-67" }),
          vkidError(),
          el("button", { class: "primary", type: "submit", dataset: { vkid: "continue" } }, vt("vkid_continue")),
          el("p", { class: "muted small" }, vt("vkid_terms")))];
    case "password": {
      const account = flow.vk_account ? flow.vk_account.masked_name : "";
      if (flow.scenario === "new_profile" && vkid.screen !== "password") {
        return [vkidHeader(), el("h3", {}, vt("vkid_check")),
          el("div", { class: "profile-card" }, el("span", { class: "avatar profile-avatar" }, account.slice(0, 1) || "?"),
            el("div", {}, el("div", { class: "name" }, account), el("div", { class: "muted small" }, masked))),
          el("p", { class: "muted small" }, vt("vkid_no_profile")),
          el("button", { class: "primary", type: "button", dataset: { vkid: "create" },
            onclick: async () => { vkid.screen = "password"; await vkidAct("screen", { screen: "account" }); vkid.screen = "password"; renderVkid(); } },
          vt("vkid_create"))];
      }
      return [vkidHeader(), el("h3", {}, vt("vkid_password_title")),
        el("div", { class: "muted small" }, account, " · ", masked),
        form((data) => vkidAct("password", { password: data.get("password") }),
          field("password", vt("vkid_password"), { type: "password" }),
          vkidError(),
          el("button", { class: "primary", type: "submit", dataset: { vkid: "continue" } }, vt("vkid_continue"))),
        vkid.note ? el("div", { class: "vkid-note" }, vkid.note) : null,
        el("button", { class: "link-button", type: "button", dataset: { vkid: "forgot" },
          onclick: () => { vkid.recovery = { state: "phone" }; vkid.error = null; renderVkid(); } }, vt("vkid_forgot"))];
    }
    case "code": {
      const challenge = flow.challenge || {};
      const byCall = challenge.channel === "call";
      const timer = el("div", { class: "vkid-timer muted small", id: "vkid-timer" });
      const again = el("div", { class: "vkid-again", id: "vkid-again", hidden: true },
        el("button", { class: "link-button", type: "button", dataset: { vkid: "sms" }, onclick: () => vkidAct("send_code", { channel: "sms" }) },
          byCall ? vt("vkid_to_sms") : vt("vkid_again_sms")),
        el("button", { class: "link-button", type: "button", dataset: { vkid: "call" }, onclick: () => vkidAct("send_code", { channel: "call" }) },
          byCall ? vt("vkid_again_call") : vt("vkid_to_call")));
      startTimer(challenge, byCall);
      return [vkidHeader(), el("h3", {}, "← ", vt("vkid_confirm")),
        vkid.note ? el("div", { class: "vkid-note" }, vkid.note) : null,
        el("p", {}, byCall ? vt("vkid_call") : `${vt("vkid_sms")} ${challenge.sent_to || masked}.`),
        form((data) => vkidAct("verify_code", { code: data.get("code") }),
          field("code", byCall ? vt("vkid_code4") : vt("vkid_code"), { inputmode: "numeric", maxlength: String(challenge.code_length || 6) }),
          vkidError(),
          el("button", { class: "primary", type: "submit", dataset: { vkid: "continue" } }, vt("vkid_continue"))),
        timer, again,
        el("p", { class: "muted small" }, vt("vkid_wrong_number"))];
    }
    case "profile": {
      const profile = (flow.profiles || [])[0] || {};
      return [vkidHeader(),
        el("button", { class: "link-button", type: "button", dataset: { vkid: "other" }, onclick: () => vkidAct("switch_account") }, vt("vkid_other")),
        el("h3", {}, vt("vkid_profile_title")),
        el("div", { class: "profile-card" }, el("span", { class: "avatar profile-avatar" }, (profile.full_name || "?").slice(0, 1)),
          el("div", {}, el("div", { class: "muted small" }, vt("vkid_profile_kind")), el("div", { class: "name" }, profile.full_name || ""),
            el("div", { class: "muted small" }, profile.school || ""))),
        vkidError(),
        el("button", { class: "primary", type: "button", dataset: { vkid: "continue" }, onclick: () => vkidAct("profile", { profile_id: profile.profile_id }) }, vt("vkid_continue"))];
    }
    case "personal_data": {
      const known = flow.personal_data || {};
      const teacher = state.teachers.find((one) => one.mesh_account_id === vkid.mesh) || {};
      return [vkidHeader(), el("h3", {}, vt("vkid_about")),
        form((data) => vkidAct("personal_data", { full_name: data.get("full_name"), birth_date: data.get("birth_date"), gender: data.get("gender") }),
          field("full_name", vt("vkid_full_name"), { value: known.full_name || teacher.full_name || "" }),
          field("birth_date", vt("vkid_birth"), { type: "date", value: known.birth_date || teacher.birth_date || "" }),
          el("label", { class: "vkid-field" }, el("span", {}, vt("vkid_gender")),
            el("select", { name: "gender" },
              el("option", { value: "female", selected: (known.gender || teacher.gender) !== "male" }, vt("vkid_female")),
              el("option", { value: "male", selected: (known.gender || teacher.gender) === "male" }, vt("vkid_male")))),
          vkidError(),
          el("button", { class: "primary", type: "submit", dataset: { vkid: "continue" } }, vt("vkid_continue")))];
    }
    case "consent": {
      const name = (flow.personal_data || {}).full_name || "";
      return [el("h3", {}, vt("vkid_consent_title")), el("p", {}, vt("vkid_consent_text")),
        el("div", { class: "vkid-consent" }, el("span", { class: "mesh-logo" }, "МЭШ"), el("span", {}, flow.mesh_account.full_name),
          el("span", { class: "muted" }, "⇅"), el("span", {}, name)),
        vkidError(),
        el("div", { class: "modal-actions" },
          el("button", { class: "secondary", type: "button", dataset: { vkid: "cancel" }, onclick: () => vkidAct("consent", { link: false }) }, vt("vkid_cancel")),
          el("button", { class: "primary", type: "button", dataset: { vkid: "link" }, onclick: () => vkidAct("consent", { link: true }) }, vt("vkid_link")))];
    }
    case "linked":
      return [el("h3", { class: "linked-title" }, vt("vkid_linked_title")), el("p", {}, vt("vkid_linked_text")),
        el("button", { class: "primary", type: "button", onclick: closeVkid }, vt("vkid_close"))];
    default:
      return [el("p", {}, vt("vkid_cancelled")), el("button", { class: "primary", type: "button", onclick: closeVkid }, vt("vkid_close"))];
  }
}

function recoveryScreen() {
  const recovery = vkid.recovery;
  const back = el("button", { class: "link-button", type: "button", onclick: () => { vkid.recovery = null; vkid.error = null; renderVkid(); } }, vt("rec_back"));
  const challenge = recovery.challenge || {};
  switch (recovery.state) {
    case "phone":
      return [el("h3", {}, vt("rec_phone")),
        form((data) => vkidAct("recovery_start", { phone: data.get("recovery_phone") }),
          field("recovery_phone", vt("vkid_phone"), { inputmode: "tel", value: vkid.values.phone || "" }),
          vkidError(),
          el("button", { class: "primary", type: "submit", dataset: { vkid: "continue" } }, vt("vkid_continue"))),
        el("div", { class: "muted small" }, vt("rec_no_access")), back];
    case "code":
      startTimer(challenge, false, vt("rec_sms_in"));
      return [el("h3", {}, vt("rec_code")), el("p", {}, `${vt("rec_sms_sent")} ${recovery.phone_masked}.`),
        form((data) => vkidAct("recovery_code", { code: data.get("code") }),
          field("code", vt("rec_code"), { inputmode: "numeric" }), vkidError(),
          el("button", { class: "primary", type: "submit", dataset: { vkid: "continue" } }, vt("rec_send"))),
        el("div", { class: "vkid-timer muted small", id: "vkid-timer" }),
        el("div", { class: "vkid-again", id: "vkid-again", hidden: true },
          el("button", { class: "link-button", type: "button", onclick: () => vkidAct("recovery_resend") }, vt("rec_sms_again"))), back];
    case "confirm_account":
      return [el("h3", {}, vt("rec_check")), el("p", {}, vt("rec_is_it_you")),
        el("div", { class: "profile-card" }, el("span", { class: "avatar profile-avatar" }, ((recovery.account || {}).masked_name || "?").slice(0, 1)),
          el("div", { class: "name" }, (recovery.account || {}).masked_name || "")),
        vkidError(),
        el("div", { class: "modal-actions" },
          el("button", { class: "secondary", type: "button", onclick: () => vkidAct("recovery_confirm", { confirmed: false }) }, vt("rec_no")),
          el("button", { class: "primary", type: "button", dataset: { vkid: "yes" }, onclick: () => vkidAct("recovery_confirm", { confirmed: true }) }, vt("rec_yes")))];
    case "method": {
      const option = (method, title, hint) => el("button", { class: "vkid-option", type: "button", dataset: { vkid: `method-${method}` },
        onclick: () => vkidAct("recovery_method", { method }) }, el("div", { class: "name" }, title), el("div", { class: "muted small" }, hint));
      const methods = recovery.methods || [];
      return [el("h3", {}, vt("rec_how")),
        methods.includes("totp") ? option("totp", vt("rec_totp"), vt("rec_totp_hint")) : null,
        methods.includes("email") ? option("email", vt("rec_email"), `${vt("rec_email_hint")} ${recovery.email_masked || ""}`) : null,
        methods.includes("friends") ? option("friends", vt("rec_friends"), vt("rec_friends_hint")) : null,
        vkidError(), back];
    }
    case "method_code": {
      const byEmail = challenge.channel === "email";
      if (byEmail) startTimer(challenge, false, vt("rec_email_in"));
      return [el("h3", {}, byEmail ? vt("rec_email_code") : vt("rec_app_code")),
        byEmail ? el("p", {}, `${vt("rec_email_sent")} ${recovery.email_masked || challenge.sent_to || ""}`) : null,
        form((data) => vkidAct("recovery_method_code", { code: data.get("code") }),
          field("code", vt("rec_code"), { inputmode: "numeric" }), vkidError(),
          el("button", { class: "primary", type: "submit", dataset: { vkid: "continue" } }, vt("rec_confirm"))),
        byEmail ? el("div", { class: "vkid-timer muted small", id: "vkid-timer" }) : null,
        byEmail ? el("div", { class: "vkid-again", id: "vkid-again", hidden: true },
          el("button", { class: "link-button", type: "button", onclick: () => vkidAct("recovery_method_resend") }, vt("rec_email_in"))) : null,
        back];
    }
    case "friends":
      return [el("h3", {}, vt("rec_friends")), el("p", {}, vt("rec_friends_text")), back];
    default: // new_password, repeat_password: both fields on one screen, as VK ID shows it
      return [el("h3", {}, vt("rec_new")),
        form(async (data) => {
          if (recovery.state === "new_password") await vkidAct("recovery_password", { password: data.get("new_password") });
          if (vkid.recovery && vkid.recovery.state === "repeat_password" && !vkid.error) {
            await vkidAct("recovery_repeat", { password: data.get("repeat_password"), logout: data.get("logout") === "on" });
          }
        },
        field("new_password", vt("rec_new_field"), { type: "password" }),
        el("div", { class: "muted small" }, vt("rec_rules")),
        field("repeat_password", vt("rec_repeat_field"), { type: "password" }),
        el("label", { class: "vkid-check" }, el("input", { type: "checkbox", name: "logout" }), " ", vt("rec_logout")),
        vkidError(),
        el("button", { class: "primary", type: "submit", dataset: { vkid: "continue" } }, vt("vkid_continue"))), back];
  }
}

function startTimer(challenge, byCall, label) {
  clearInterval(vkid.timer);
  const readyAt = Date.now() + (challenge.resend_after || 0) * 1000;
  const tick = () => {
    const timer = document.getElementById("vkid-timer");
    const again = document.getElementById("vkid-again");
    if (!timer || !again) return clearInterval(vkid.timer);
    const left = (readyAt - Date.now()) / 1000;
    timer.textContent = left > 0 ? `${label || (byCall ? vt("vkid_call_in") : vt("vkid_sms_in"))} ${clock(left)}` : "";
    again.hidden = left > 0;
    if (left <= 0) clearInterval(vkid.timer);
  };
  setTimeout(tick, 0);
  vkid.timer = setInterval(tick, 1000);
}

function renderVkid() {
  const host = document.getElementById("vkid-window");
  if (!host) return;
  host.hidden = !vkid.mesh || !vkid.flow;
  if (host.hidden) { host.replaceChildren(); return; }
  host.dataset.state = vkid.recovery ? `recovery_${vkid.recovery.state}` : vkid.flow.state;
  host.replaceChildren(
    el("div", { class: "vkid-titlebar" }, el("span", {}, vt("vkid_window")),
      el("button", { class: "icon-button", type: "button", "aria-label": vt("vkid_close"), onclick: closeVkid }, "×")),
    el("div", { class: "vkid-body" }, ...(vkid.recovery ? recoveryScreen() : vkidScreen())));
}
