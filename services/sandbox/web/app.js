// Sandbox page: plain JS, no build step. Everything the bot sends is rendered through DOM text
// nodes; formatting comes only from Telegram entities mapped onto a fixed set of safe elements.
"use strict";

const I18N = {
  ru: {
    title: "Песочница «Сферум»", tab_mesh: "Электронный журнал", tab_chat: "Учитель · Telegram",
    tab_phone: "Телефон", tab_helpdesk: "Поддержка", mesh_title: "Электронный журнал",
    mesh_hint: "Выберите учителя и нажмите на значок мессенджера — так начинается привязка (шаги 1–2).",
    bot_status: "бот", typing: "печатает…", you_are: "Вы:", operator: "Оператор:",
    message_placeholder: "Сообщение", operator_placeholder: "Ответ учителю или команда",
    chat_empty: "Откройте «Электронный журнал» и нажмите «Перейти к подключению».",
    phone_empty: "Здесь появятся SMS, звонки-сбросы, письма и коды, которые получили ваши друзья.", vpn: "VPN",
    totp_title: "Приложение-генератор кодов", offline: "Нет связи с песочницей…",
    messenger: "Мессенджер", open_chat: "Открыть чат", edited: "изменено",
    not_connected: "Мессенджер не подключен",
    not_connected_text: "Для работы мессенджера необходимо связать ваш аккаунт МЭШ с аккаунтом Сферум, чтобы общаться в чатах и проводить онлайн-звонки.",
    not_connected_text2: "Сферум — это безопасное образовательное пространство, где вы сможете общаться только с участниками своей школы в закрытых чатах.",
    cancel: "Отмена", connect: "Перейти к подключению ↗", ok: "OK",
    sms: "SMS", call: "Звонок-сброс", email: "Письмо", code: "код",
    vk_password: "Пароль VK ID (демо):", share_contact: "Отправить свой номер",
    general: "Общая тема", closed: "закрыта", topic_open: "открыта", deleted: "сообщение удалено",
    topic_created: "Создана тема", topic_edited: "Тема переименована", topic_closed: "Тема закрыта",
    topic_reopened: "Тема снова открыта", contact: "Контакт",
    case_no_vkid: "Нет VK ID — регистрация",
    case_vkid_no_profile: "Есть VK ID, нет профиля Сферум — сценарий A",
    case_profile_exists: "Профиль Сферум уже есть — сценарий B",
    case_profile_exists_authorised: "Профиль есть, VK ID уже авторизован — сценарий B",
    case_already_linked: "Уже привязан к Сферуму",
    case_forgot_password_email: "Забыт пароль, восстановление по почте — сценарий C",
    case_forgot_password_app: "Забыт пароль, приложение-генератор — сценарий C",
    case_forgot_password_friends: "Забыт пароль, помощь друзей — сценарий C",
    case_vpn: "Включён VPN",
    case_registered_no_password: "VK ID без пароля (после регистрации) — восстановление по SMS",
    friend: "Код другу", friend_title: "Друг, которому доверяете",
    tab_mesh_short: "Журнал", tab_chat_short: "Чат", tab_phone_short: "Телефон", tab_helpdesk_short: "Поддержка",
    linked: "Сферум подключён ✓", linked_card: "Сферум подключён ✓", not_linked_card: "Мессенджер не подключен",
    linked_profile: "Профиль Сферум:", linked_text: "Чаты школы и онлайн-звонки — в VK Мессенджере:",
    close: "Закрыть", born: "дата рождения", new_teacher: "+ Новый учитель", create: "Создать",
    reset_demo: "Сбросить демо", reset_title: "Сбросить демо?",
    reset_text: "В журнале появятся новые учителя — по одному на каждый сценарий, ещё не привязанные. Прежние чаты и обращения в поддержку останутся.",
    reset_done: "Демо сброшено: новые учителя в журнале.", added: "Добавлен учитель",
    tab_mesh_label: "Электронный журнал", tab_chat_label: "Учитель · Telegram", tab_phone_label: "Телефон", tab_helpdesk_label: "Поддержка",
    attach: "Файл", unread: "непрочитанных",
  },
  en: {
    title: "Sferum sandbox", tab_mesh: "E-journal", tab_chat: "Teacher · Telegram",
    tab_phone: "Phone", tab_helpdesk: "Helpdesk", mesh_title: "MESH e-journal",
    mesh_hint: "Pick a teacher and press the messenger icon: this is how linking starts (steps 1–2).",
    bot_status: "bot", typing: "typing…", you_are: "You:", operator: "Operator:",
    message_placeholder: "Message", operator_placeholder: "Reply to the teacher or a command",
    chat_empty: "Open the e-journal and press «Перейти к подключению».",
    phone_empty: "SMS, call-resets, e-mails and the codes your friends got will appear here.", vpn: "VPN",
    totp_title: "Code generator app", offline: "Lost connection to the sandbox…",
    messenger: "Messenger", open_chat: "Open chat", edited: "edited",
    not_connected: "Messenger is not connected",
    not_connected_text: "To use the messenger, link your MESH account with a Sferum account: then you can chat and hold online calls.",
    not_connected_text2: "Sferum is a safe educational space where you talk only to members of your own school, in closed chats.",
    cancel: "Cancel", connect: "Connect («Перейти к подключению») ↗", ok: "OK",
    sms: "SMS", call: "Call-reset", email: "E-mail", code: "code",
    vk_password: "VK ID password (demo):", share_contact: "Share my number",
    general: "General", closed: "closed", topic_open: "open", deleted: "message deleted",
    topic_created: "Topic created", topic_edited: "Topic renamed", topic_closed: "Topic closed",
    topic_reopened: "Topic reopened", contact: "Contact",
    case_no_vkid: "No VK ID — registration",
    case_vkid_no_profile: "VK ID without a Sferum profile — scenario A",
    case_profile_exists: "Sferum profile exists — scenario B",
    case_profile_exists_authorised: "Profile exists, VK ID session authorised — scenario B",
    case_already_linked: "Already linked",
    case_forgot_password_email: "Forgot password, recovery by e-mail — scenario C",
    case_forgot_password_app: "Forgot password, code generator app — scenario C",
    case_forgot_password_friends: "Forgot password, trusted friends — scenario C",
    case_vpn: "VPN is on",
    case_registered_no_password: "VK ID without a password (from registration) — recovery by SMS",
    friend: "Code to a friend", friend_title: "A trusted friend",
    tab_mesh_short: "Journal", tab_chat_short: "Chat", tab_phone_short: "Phone", tab_helpdesk_short: "Helpdesk",
    linked: "Sferum connected ✓", linked_card: "Sferum connected ✓", not_linked_card: "Messenger not connected",
    linked_profile: "Sferum profile:", linked_text: "School chats and online calls are in VK Messenger:",
    close: "Close", born: "born", new_teacher: "+ New teacher", create: "Create",
    reset_demo: "Reset demo", reset_title: "Reset the demo?",
    reset_text: "The e-journal gets new teachers, one per case, none linked yet. Earlier chats and helpdesk tickets stay.",
    reset_done: "Demo reset: new teachers in the e-journal.", added: "Teacher added",
    tab_mesh_label: "E-journal", tab_chat_label: "Teacher · Telegram", tab_phone_label: "Phone", tab_helpdesk_label: "Helpdesk",
    attach: "File", unread: "unread",
  },
};

const state = {
  lang: localStorage.getItem("sandbox.lang") || "ru",
  tab: "mesh",
  bot: null,
  chats: new Map(),
  teachers: [],
  operators: [],
  helpdeskId: null,
  teacherId: Number(localStorage.getItem("sandbox.teacher")) || null,
  operatorId: null,
  topicId: null, // the helpdesk topic shown (null: general)
  topicPinned: false, // the operator chose it; otherwise the newest open ticket is shown
  cases: [],
  pending: new Map(), // callback query id → {chatId, messageId, data}
  unread: new Map(), // helpdesk thread id (or "general") → count of bot messages not seen
  phoneSeen: new Map(), // teacher user id → time of the newest phone item already seen
  phoneUnseen: 0, // items on the selected teacher's phone that arrived while it was hidden
  commandMenus: new Map(), // "chat:user:lang" → the bot's commands as Telegram resolves them
  typingTimer: null,
  phoneTimer: null,
};

const $ = (id) => document.getElementById(id);
const t = (key) => (I18N[state.lang] || I18N.ru)[key] ?? I18N.ru[key] ?? key;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const ICONS = {
  chat: "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z",
  sms: "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2zM8 9h8M8 13h5",
  call: "M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2z",
  email: "M4 4h16a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zM22 6l-10 7L2 6",
  user: "M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z",
  friend: "M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM23 21v-2a4 4 0 0 0-3-3.9M16 3.1a4 4 0 0 1 0 7.8",
  file: "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6",
};

function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name] || ICONS.chat);
  svg.append(path);
  return svg;
}

async function api(path, options = {}) {
  const init = { method: options.method || "GET", headers: {} };
  if (options.json !== undefined) {
    init.method = options.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = body.error || response.statusText;
    showToast(message);
    throw new Error(message);
  }
  return body;
}

// ---- Telegram entities → safe DOM ---------------------------------------------------------

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return ["http:", "https:", "mailto:", "tg:"].includes(parsed.protocol) ? parsed.href : null;
  } catch (error) {
    return null;
  }
}

function linkNode(url, label) {
  const href = safeUrl(url);
  if (!href) return el("span", {}, label);
  const a = el("a", { href, target: "_blank", rel: "noopener noreferrer" }, label);
  a.addEventListener("click", (event) => handleLink(event, href));
  return a;
}

function entityNode(entity, text) {
  switch (entity.type) {
    case "bold": return el("b");
    case "italic": return el("i");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": return el("pre");
    case "blockquote": case "expandable_blockquote": return el("blockquote");
    case "spoiler": {
      const node = el("span", { class: "spoiler" });
      node.addEventListener("click", () => node.classList.add("revealed"));
      return node;
    }
    case "text_link": return linkNode(entity.url, "");
    // Telegram links bare addresses (web.vk.me) too; the scheme is implied.
    case "url": return linkNode(/^[a-z][a-z0-9+.-]*:/i.test(text) ? text : `https://${text}`, "");
    case "email": return linkNode(`mailto:${text}`, "");
    case "bot_command": {
      const node = el("span", { class: "cmd" });
      node.addEventListener("click", () => sendTeacherText(text));
      return node;
    }
    default: return el("span");
  }
}

// Phone numbers, masked or not (+7 *** ***-**-77, +7 916 123-45-67), never break across lines.
const PHONE_RE = /(?:\+7|8)[ \u00a0]?\(?[\d*]{3}\)?[ \u00a0]?[\d*]{3}[- \u00a0]?[\d*]{2}[- \u00a0]?[\d*]{2}/g;

function appendText(parent, text) {
  let pos = 0;
  for (const match of text.matchAll(PHONE_RE)) {
    if (match.index > pos) parent.append(text.slice(pos, match.index));
    parent.append(el("span", { class: "nowrap" }, match[0]));
    pos = match.index + match[0].length;
  }
  if (pos < text.length) parent.append(text.slice(pos));
}

function renderFormatted(text, entities) {
  const fragment = document.createDocumentFragment();
  const sorted = [...(entities || [])].sort((a, b) => a.offset - b.offset || b.length - a.length);
  const build = (parent, start, end, list) => {
    let pos = start;
    let i = 0;
    while (i < list.length) {
      const entity = list[i];
      const from = Math.max(entity.offset, pos);
      const to = Math.min(entity.offset + entity.length, end);
      const inner = [];
      let j = i + 1;
      while (j < list.length && list[j].offset < to) inner.push(list[j++]);
      if (to > from) {
        if (from > pos) appendText(parent, text.slice(pos, from));
        const node = entityNode(entity, text.slice(from, to));
        build(node, from, to, inner);
        parent.append(node);
        pos = to;
      }
      i = j;
    }
    if (pos < end) appendText(parent, text.slice(pos, end));
  };
  build(fragment, 0, text.length, sorted);
  return fragment;
}

// ---- world state ---------------------------------------------------------------------------

function chatRecord(chatId) {
  if (!state.chats.has(chatId)) {
    state.chats.set(chatId, { chat: { id: chatId }, messages: new Map(), reply_keyboard: null, topics: new Map(), members: [] });
  }
  return state.chats.get(chatId);
}

function loadState(snapshot) {
  state.bot = snapshot.world.bot;
  state.teachers = snapshot.teachers;
  state.cases = snapshot.cases || [];
  state.operators = snapshot.operators;
  state.helpdeskId = snapshot.helpdesk_chat_id;
  state.chats = new Map();
  for (const entry of snapshot.world.chats) {
    const record = chatRecord(entry.chat.id);
    record.chat = entry.chat;
    record.reply_keyboard = entry.reply_keyboard;
    record.members = entry.members;
    for (const message of entry.messages) record.messages.set(message.message_id, message);
    for (const topic of entry.topics) record.topics.set(topic.message_thread_id, topic);
  }
  keepSelectedTeacher();
  if (!state.operatorId && state.operators.length) state.operatorId = state.operators[0].id;
  renderAll();
}

function keepSelectedTeacher() {
  if (!state.teachers.some((teacher) => teacher.user_id === state.teacherId)) {
    state.teacherId = state.teachers.length ? state.teachers[0].user_id : null;
  }
}

function setTeachers(teachers) {
  state.teachers = teachers;
  keepSelectedTeacher();
  renderMesh();
  renderTeacherSelect();
}

// The e-journal reads link states (and the phone its password) from the backend, on demand.
async function refreshTeachers() {
  setTeachers(await api("/api/teachers"));
}

function threadKey(message) {
  return message.message_thread_id ?? "general";
}

function applyEvent(event) {
  switch (event.type) {
    case "state": loadState(event); return;
    case "chat": chatRecord(event.chat.id).chat = event.chat; break;
    case "message": case "edit": {
      chatRecord(event.chat_id).messages.set(event.message.message_id, event.message);
      // Unread: what the bot posts in the helpdesk (tickets, teachers' messages) while the
      // operator looks elsewhere; the operators' own messages are typed here, so never unread.
      if (event.type === "message" && event.chat_id === state.helpdeskId && event.message.from.is_bot) {
        const key = threadKey(event.message);
        if (key !== (state.topicId ?? "general") || state.tab !== "helpdesk") {
          state.unread.set(key, (state.unread.get(key) || 0) + 1);
        }
      }
      if (event.type === "message" && event.chat_id === state.teacherId && event.message.from.is_bot) {
        setTyping(false);
      }
      break;
    }
    case "delete": chatRecord(event.chat_id).messages.delete(event.message_id); break;
    case "keyboard": chatRecord(event.chat_id).reply_keyboard = event.keyboard; break;
    case "topic": chatRecord(event.chat_id).topics.set(event.topic.message_thread_id, event.topic); break;
    case "topic_deleted": chatRecord(event.chat_id).topics.delete(event.message_thread_id); break;
    case "callback_answer": onCallbackAnswer(event); break;
    case "teachers": setTeachers(event.teachers); return;
    case "commands": state.commandMenus.clear(); return;
    case "chat_action":
      if (event.chat_id === state.teacherId && event.action === "typing") setTyping(true);
      return;
    default: return;
  }
  if (event.chat_id === undefined || event.chat_id === state.teacherId) renderChat();
  if (event.chat_id === undefined || event.chat_id === state.helpdeskId) renderHelpdesk();
  renderTabBadges();
}

function connect() {
  const source = new EventSource("/api/events");
  source.onmessage = (message) => {
    $("connection").hidden = true;
    applyEvent(JSON.parse(message.data));
  };
  source.onerror = () => { $("connection").hidden = false; };
}

// ---- layout, tabs, language ----------------------------------------------------------------

function setTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll(".tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  for (const pane of document.querySelectorAll(".pane")) {
    pane.classList.toggle("active", pane.dataset.pane === tab);
  }
  document.body.dataset.tab = tab;
  if (location.hash.slice(1) !== tab) history.replaceState(null, "", `#${tab}`);
  if (tab === "helpdesk") openHelpdesk();
  if (tab === "chat") scrollToEnd($("chat-messages"), true);
  if (tab === "mesh") refreshTeachers().catch(() => {});
  pollPhone();
  renderTabBadges();
}

// Tabs that are not on screen show how much arrived there: the helpdesk's unread messages and,
// on a phone-sized screen (where the phone is a tab of its own), new codes and calls.
function renderTabBadges() {
  const helpdeskUnread = state.tab === "helpdesk" ? 0 : [...state.unread.values()].reduce((a, b) => a + b, 0);
  setBadge("helpdesk", helpdeskUnread);
  setBadge("phone", phoneVisible() ? 0 : state.phoneUnseen);
}

function setBadge(tab, count) {
  const badge = document.querySelector(`.tabs button[data-tab="${tab}"] .tab-badge`);
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count === 0;
  badge.title = `${count} ${t("unread")}`;
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of document.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
  for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  state.commandMenus.clear(); // Telegram picks the menu by the app's language
  $("lang-toggle").textContent = state.lang === "ru" ? "EN" : "RU";
  renderAll();
}

function renderAll() {
  renderMesh();
  renderVkid();
  renderTeacherSelect();
  renderChat();
  renderHelpdesk();
  pollPhone();
}

// ---- MESH e-journal -----------------------------------------------------------------------

function renderMesh() {
  const list = $("teacher-list");
  list.replaceChildren(...state.teachers.map((teacher) => el("li", {
    class: `teacher${teacher.user_id === state.teacherId ? " current" : ""}${teacher.linked_profile ? " linked" : ""}`,
    dataset: { mesh: teacher.mesh_account_id },
  },
  el("div", { class: "name" }, teacher.full_name),
  el("div", { class: "case" }, t(`case_${teacher.case}`)),
  el("div", { class: "link-state" }, teacher.linked_profile ? t("linked_card") : t("not_linked_card")),
  el("div", { class: "row" },
    el("span", { class: "muted small" }, teacher.mesh_account_id),
    el("button", { class: "icon-button messenger", type: "button", title: t("messenger"),
      onclick: () => openMessenger(teacher.user_id) }, icon("chat"), t("messenger"))))));
  const picker = $("new-case");
  const chosen = picker.value;
  picker.replaceChildren(...state.cases.map((c) => el("option", { value: c, selected: c === chosen }, t(`case_${c}`))));
}

// «Мессенджер»: the teacher is selected at once; the window shows what the backend says now.
async function openMessenger(userId) {
  selectTeacher(userId);
  try { await refreshTeachers(); } catch (error) { /* shown as a toast; use what we know */ }
  const teacher = state.teachers.find((one) => one.user_id === userId);
  if (!teacher) return;
  if (teacher.linked_profile) openLinkedView(teacher);
  else openConnectDialog(teacher);
}

function openLinkedView(teacher) {
  const profile = teacher.linked_profile;
  const born = new Date(`${profile.birth_date}T00:00:00`).toLocaleDateString(state.lang);
  showModal([
    el("h2", { class: "linked-title" }, t("linked")),
    el("div", { class: "profile-card" },
      el("span", { class: "avatar profile-avatar" }, profile.full_name.slice(0, 1)),
      el("div", {},
        el("div", { class: "muted small" }, t("linked_profile")),
        el("div", { class: "name" }, profile.full_name),
        el("div", { class: "muted small" }, profile.school, " · ", t("born"), " ", born))),
    el("p", {}, t("linked_text"), " ", linkNode("https://web.vk.me", "web.vk.me")),
  ], [
    el("button", { class: "primary", type: "button", onclick: hideModal }, t("close")),
  ]);
}

function openConnectDialog(teacher) {
  showModal([
    el("h2", {}, t("not_connected")),
    el("p", {}, t("not_connected_text")),
    el("p", { class: "muted" }, t("not_connected_text2")),
  ], [
    el("button", { class: "secondary", type: "button", onclick: hideModal }, t("cancel")),
    el("button", { class: "primary connect", type: "button", onclick: async () => {
      hideModal();
      // With a linking already open (the bot's, guide mode), the e-journal's own VK ID window
      // opens on it (vkid-window.js); with none, the e-journal opens the bot, as before.
      await openVkidWindowOrBot(teacher, async () => {
        await api(`/api/teachers/${encodeURIComponent(teacher.mesh_account_id)}/connect`, { json: {} });
        selectTeacher(teacher.user_id);
        setTab("chat");
      });
    } }, t("connect")),
  ]);
}

async function addTeacher() {
  const teacher = await api("/api/teachers", { json: { case: $("new-case").value } });
  selectTeacher(teacher.user_id);
  showToast(`${t("added")}: ${teacher.full_name}`);
  const card = document.querySelector(`.teacher[data-mesh="${teacher.mesh_account_id}"]`);
  if (card) card.scrollIntoView({ block: "nearest" });
}

function confirmReset() {
  showModal([el("h2", {}, t("reset_title")), el("p", {}, t("reset_text"))], [
    el("button", { class: "secondary", type: "button", onclick: hideModal }, t("cancel")),
    el("button", { class: "primary reset", type: "button", onclick: async () => {
      hideModal();
      const teachers = await api("/api/demo/reset", { json: {} });
      setTeachers(teachers);
      selectTeacher(teachers[0].user_id);
      showToast(t("reset_done"));
    } }, t("reset_demo")),
  ]);
}

// ---- teacher chat --------------------------------------------------------------------------

function renderTeacherSelect() {
  const select = $("teacher-select");
  select.replaceChildren(...state.teachers.map((teacher) => el("option", {
    value: teacher.user_id, selected: teacher.user_id === state.teacherId,
  }, teacher.full_name)));
  $("bot-name").textContent = state.bot ? state.bot.first_name : "";
}

function selectTeacher(userId) {
  if (state.teacherId !== userId) state.phoneUnseen = 0;
  state.teacherId = userId;
  localStorage.setItem("sandbox.teacher", String(userId));
  renderMesh();
  renderTeacherSelect();
  renderChat();
  hideCommandMenu();
  pollPhone();
}

function senderName(user) {
  return [user.first_name, user.last_name].filter(Boolean).join(" ");
}

function formatTime(unix) {
  return new Date(unix * 1000).toLocaleTimeString(state.lang, { hour: "2-digit", minute: "2-digit" });
}

function serviceText(message) {
  if (message.forum_topic_created) return `${t("topic_created")}: «${message.forum_topic_created.name}»`;
  if (message.forum_topic_edited) return `${t("topic_edited")}: «${message.forum_topic_edited.name || ""}»`;
  if (message.forum_topic_closed) return t("topic_closed");
  if (message.forum_topic_reopened) return t("topic_reopened");
  return null;
}

function messageBody(message) {
  const parts = [];
  if (message.photo) {
    const photo = message.photo[message.photo.length - 1];
    parts.push(el("img", { src: `/api/files/${encodeURIComponent(photo.file_id)}`, alt: "photo", loading: "lazy" }));
  }
  if (message.document) {
    const doc = message.document;
    parts.push(el("a", { class: "doc", href: `/api/files/${encodeURIComponent(doc.file_id)}`, download: doc.file_name || "file" },
      el("span", { class: "doc-icon" }, icon("file")), el("span", {}, doc.file_name || "file")));
  }
  if (message.contact) {
    const contact = message.contact;
    parts.push(el("div", { class: "contact-card" }, el("span", { class: "doc-icon" }, icon("user")),
      el("div", {}, el("div", {}, `${contact.first_name} ${contact.last_name || ""}`.trim()),
        el("div", { class: "muted small" }, contact.phone_number))));
  }
  if (message.text !== undefined) parts.push(renderFormatted(...shownText(message)));
  if (message.caption !== undefined) parts.push(el("div", {}, renderFormatted(message.caption, message.caption_entities)));
  if (!parts.length) parts.push(el("i", { class: "muted" }, "…"));
  return parts;
}

// A deep link's `/start <token>` reads «/start» in Telegram: the payload is not the person's text.
function shownText(message) {
  const deepLink = !message.from.is_bot && /^\/start\s+\S+$/.test(message.text);
  if (!deepLink) return [message.text, message.entities];
  return ["/start", (message.entities || []).filter((e) => e.offset + e.length <= 6)];
}

function inlineKeyboard(message, chatId) {
  const rows = (message.reply_markup && message.reply_markup.inline_keyboard) || [];
  if (!rows.length) return null;
  return el("div", { class: "inline-kb" }, rows.map((row) => el("div", { class: "kb-row" }, row.map((button) => {
    if (button.url) return linkNode(button.url, button.text);
    if (button.callback_data === undefined) return el("button", { type: "button", disabled: true }, button.text);
    const waiting = [...state.pending.values()].some((p) => p.chatId === chatId && p.messageId === message.message_id && p.data === button.callback_data);
    return el("button", {
      type: "button", class: waiting ? "loading" : "",
      dataset: { callback: button.callback_data },
      onclick: (event) => pressButton(event.currentTarget, chatId, message.message_id, button.callback_data, message.from),
    }, button.text);
  }))));
}

function messageNode(message, chatId, outgoing) {
  const service = serviceText(message);
  if (service) return el("div", { class: "service", dataset: { messageId: message.message_id } }, service);
  const bubble = el("div", { class: "bubble" });
  if (chatId === state.helpdeskId) bubble.append(el("div", { class: "sender" }, senderName(message.from)));
  const reply = message.reply_to_message;
  if (reply && !reply.forum_topic_created) {
    const quoted = reply.text || reply.caption || (reply.document ? reply.document.file_name : "…");
    bubble.append(el("div", { class: "reply-quote" }, quoted));
  }
  bubble.append(...messageBody(message));
  bubble.append(el("div", { class: "meta" }, message.edit_date ? `${t("edited")} ` : "", formatTime(message.date)));
  return el("div", { class: `msg ${outgoing ? "out" : "in"}`, dataset: { messageId: message.message_id } },
    bubble, inlineKeyboard(message, chatId));
}

function scrollToEnd(container, force) {
  if (force || container.dataset.stick !== "false") container.scrollTop = container.scrollHeight;
}

function trackStickiness(container) {
  container.addEventListener("scroll", () => {
    const nearEnd = container.scrollHeight - container.scrollTop - container.clientHeight < 60;
    container.dataset.stick = String(nearEnd);
  });
}

function renderChat() {
  const container = $("chat-messages");
  const record = state.teacherId ? state.chats.get(state.teacherId) : null;
  const messages = record ? [...record.messages.values()].sort((a, b) => a.message_id - b.message_id) : [];
  container.replaceChildren(...messages.map((message) => messageNode(message, state.teacherId, !message.from.is_bot)));
  $("chat-empty").hidden = messages.length > 0;
  renderReplyKeyboard(record);
  scrollToEnd(container);
}

function renderReplyKeyboard(record) {
  const box = $("reply-keyboard");
  const keyboard = record && record.reply_keyboard;
  box.hidden = !keyboard;
  $("chat-input").placeholder = (keyboard && keyboard.input_field_placeholder) || t("message_placeholder");
  if (!keyboard) { box.replaceChildren(); return; }
  box.replaceChildren(...keyboard.keyboard.map((row) => el("div", { class: "kb-row" }, row.map((button) => {
    const text = typeof button === "string" ? button : button.text;
    if (button.request_contact) {
      return el("button", { type: "button", class: "contact", onclick: () => api("/api/contact", { json: { user_id: state.teacherId } }) }, icon("call"), text);
    }
    return el("button", { type: "button", onclick: () => sendTeacherText(text) }, text);
  }))));
}

function sendTeacherText(text) {
  if (!state.teacherId || !text.trim()) return Promise.resolve();
  return api("/api/messages", { json: { user_id: state.teacherId, text } });
}

// ---- the bot's command menu («/» in the message field) ---------------------------------------

async function commandMenu() {
  const key = `${state.teacherId}:${state.teacherId}:${state.lang}`;
  if (!state.commandMenus.has(key)) {
    const query = new URLSearchParams({ user_id: state.teacherId, chat_id: state.teacherId, language: state.lang });
    state.commandMenus.set(key, await api(`/api/commands?${query}`));
  }
  return state.commandMenus.get(key);
}

async function updateCommandMenu() {
  const typed = $("chat-input").value;
  if (!state.teacherId || !/^\/\w*$/.test(typed)) { hideCommandMenu(); return; }
  const prefix = typed.slice(1).toLowerCase();
  const commands = (await commandMenu()).filter((c) => c.command.startsWith(prefix));
  if ($("chat-input").value !== typed) return; // typed on meanwhile; a newer call draws
  const menu = $("command-menu");
  menu.replaceChildren(...commands.map((c) => el("li", { role: "option", dataset: { command: c.command },
    onmousedown: (event) => { event.preventDefault(); chooseCommand(c.command); } },
  el("span", { class: "command" }, `/${c.command}`), el("span", { class: "description" }, c.description))));
  menu.hidden = commands.length === 0;
}

function chooseCommand(command) {
  $("chat-input").value = "";
  hideCommandMenu();
  sendTeacherText(`/${command}`);
}

function hideCommandMenu() { $("command-menu").hidden = true; }

function pressButton(node, chatId, messageId, data, from) {
  const userId = chatId === state.helpdeskId ? state.operatorId : state.teacherId;
  node.classList.add("loading");
  api("/api/callback", { json: { user_id: userId, chat_id: chatId, message_id: messageId, data } })
    .then(({ query_id: queryId }) => {
      state.pending.set(queryId, { chatId, messageId, data });
      // Telegram clients stop the spinner after a while even if the bot never answers.
      setTimeout(() => { if (state.pending.delete(queryId)) { renderChat(); renderHelpdesk(); } }, 15000);
    })
    .catch(() => node.classList.remove("loading"));
}

function onCallbackAnswer(event) {
  state.pending.delete(event.query_id);
  if (event.text) {
    if (event.show_alert) {
      showModal([el("p", {}, event.text)], [el("button", { class: "primary", type: "button", onclick: hideModal }, t("ok"))]);
    } else {
      showToast(event.text);
    }
  }
}

function setTyping(on) {
  const status = $("bot-status");
  clearTimeout(state.typingTimer);
  status.textContent = on ? t("typing") : t("bot_status");
  status.classList.toggle("typing", on);
  if (on) state.typingTimer = setTimeout(() => setTyping(false), 5000);
}

function handleLink(event, href) {
  const url = new URL(href);
  if (url.origin === location.origin) {
    event.preventDefault();
    setTab(url.hash.slice(1) || "mesh");
    return;
  }
  const botLink = state.bot && url.hostname === "t.me" && url.pathname.slice(1) === state.bot.username;
  if (botLink) {
    event.preventDefault();
    const start = url.searchParams.get("start");
    setTab("chat");
    sendTeacherText(start ? `/start ${start}` : "/start");
  }
}

// The page's API takes only JSON (see services/sandbox/guard.py): files travel as base64.
async function base64Of(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

async function uploadFile(input, fields) {
  const file = input.files[0];
  if (!file) return;
  try {
    const body = { ...fields, filename: file.name, mime_type: file.type || "application/octet-stream", data: await base64Of(file) };
    await api("/api/files", { json: body });
  } finally {
    input.value = "";
  }
}

// ---- phone ---------------------------------------------------------------------------------

function formattedPlain(text) {
  const fragment = document.createDocumentFragment();
  appendText(fragment, text);
  return fragment;
}

function phoneVisible() {
  return state.tab === "phone" || window.matchMedia("(min-width: 1000px)").matches;
}

const PHONE_POLL_MS = 1500;

// Polled even while the phone is hidden (a phone-sized screen): its tab shows what arrived.
async function pollPhone() {
  clearTimeout(state.phoneTimer);
  if (state.teacherId && document.visibilityState !== "hidden") {
    try {
      renderPhone(await api(`/api/phone/${state.teacherId}`));
    } catch (error) { /* shown as a toast; try again on the next tick */ }
  }
  state.phoneTimer = setTimeout(pollPhone, PHONE_POLL_MS);
}

function notePhoneArrivals(teacherId, messages) {
  const newest = messages.length ? messages[0].at : "";
  // What was there when the teacher was first looked at is history, not news.
  if (!state.phoneSeen.has(teacherId) || phoneVisible()) state.phoneSeen.set(teacherId, newest);
  const seen = state.phoneSeen.get(teacherId);
  state.phoneUnseen = messages.filter((item) => item.at > seen).length;
  renderTabBadges();
}

function renderPhone(data) {
  const teacher = data.teacher;
  if (teacher.user_id !== state.teacherId) return;
  notePhoneArrivals(teacher.user_id, data.messages);
  $("phone-owner").textContent = teacher.full_name;
  $("phone-number").replaceChildren(el("span", { class: "nowrap" }, teacher.phone), teacher.email ? ` · ${teacher.email}` : "");
  $("vpn-toggle").checked = teacher.vpn;
  $("phone-password").textContent = teacher.vk_password ? `${t("vk_password")} ${teacher.vk_password}` : "";
  $("totp-card").hidden = !data.totp;
  $("totp-code").textContent = data.totp || "";
  const feed = $("phone-feed");
  feed.replaceChildren(...data.messages.map((item) => el("li", { class: `item ${item.channel}`, dataset: { channel: item.channel } },
    el("div", { class: "kind" }, el("span", {}, icon(item.channel), item.friend ? `${t(item.channel)}: ${item.friend}` : t(item.channel)),
      el("span", {}, new Date(item.at).toLocaleTimeString(state.lang))),
    el("div", { class: "code" }, item.code),
    el("div", { class: "text" }, formattedPlain(item.text)))));
  $("phone-empty").hidden = data.messages.length > 0;
}

// ---- helpdesk ------------------------------------------------------------------------------

// The newest open ticket is what an operator opens the helpdesk for; closed ones only on request.
function newestOpenTopic(record) {
  const open = [...record.topics.values()].filter((topic) => !topic.is_closed);
  return open.length ? Math.max(...open.map((topic) => topic.message_thread_id)) : null;
}

function openHelpdesk() {
  const record = state.helpdeskId ? state.chats.get(state.helpdeskId) : null;
  const pinned = record && state.topicId !== null && record.topics.get(state.topicId);
  if (!pinned || pinned.is_closed) state.topicPinned = false;
  renderHelpdesk();
}

function chooseTopic(threadId) {
  state.topicId = threadId;
  state.topicPinned = true;
  renderHelpdesk();
  renderTabBadges();
}

function renderHelpdesk() {
  const record = state.helpdeskId ? state.chats.get(state.helpdeskId) : null;
  if (!record) return;
  if (state.topicPinned && state.topicId !== null && !record.topics.has(state.topicId)) state.topicPinned = false;
  if (!state.topicPinned) state.topicId = newestOpenTopic(record);
  if (state.tab === "helpdesk") state.unread.delete(state.topicId ?? "general");
  $("helpdesk-title").textContent = record.chat.title || "";
  const select = $("operator-select");
  select.replaceChildren(...state.operators.map((op) => el("option", { value: op.id, selected: op.id === state.operatorId }, senderName(op))));
  const topics = [...record.topics.values()].sort((a, b) => b.message_thread_id - a.message_thread_id);
  const entries = [{ message_thread_id: null, name: t("general"), icon_color: 0x9aa5b1 }, ...topics];
  $("topic-list").replaceChildren(...entries.map((topic) => {
    const key = topic.message_thread_id ?? "general";
    const unread = state.unread.get(key);
    return el("li", {
      class: (topic.message_thread_id ?? null) === state.topicId ? "active" : "",
      dataset: { thread: topic.message_thread_id ?? "" },
      onclick: () => chooseTopic(topic.message_thread_id ?? null),
    }, el("span", {}, el("span", { class: "topic-dot", style: `background:#${topic.icon_color.toString(16).padStart(6, "0")}` }), topic.name),
    topic.is_closed ? el("span", { class: "badge" }, t("closed")) : null,
    unread ? el("span", { class: "badge unread" }, String(unread)) : null);
  }));
  const current = state.topicId === null ? null : record.topics.get(state.topicId);
  $("topic-title").textContent = current ? current.name : t("general");
  $("topic-status").textContent = current ? (current.is_closed ? t("closed") : t("topic_open")) : record.chat.title || "";
  const messages = [...record.messages.values()]
    .filter((message) => (message.message_thread_id ?? null) === state.topicId)
    .sort((a, b) => a.message_id - b.message_id);
  const container = $("topic-messages");
  container.replaceChildren(...messages.map((message) => messageNode(message, state.helpdeskId, !message.from.is_bot)));
  scrollToEnd(container);
}

function sendOperatorText(text) {
  if (!state.operatorId || !text.trim()) return Promise.resolve();
  return api("/api/messages", { json: {
    user_id: state.operatorId, chat_id: state.helpdeskId, text, message_thread_id: state.topicId,
  } });
}

// ---- overlays ------------------------------------------------------------------------------

function showToast(text) {
  const toast = $("toast");
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(showToast.timer);
  showToast.timer = setTimeout(() => { toast.hidden = true; }, 3500);
}

function showModal(body, actions) {
  $("modal-body").replaceChildren(...body);
  $("modal-actions").replaceChildren(...actions);
  $("modal").hidden = false;
}

function hideModal() { $("modal").hidden = true; }

function onKey(event) {
  if (event.key !== "Escape") return;
  if (!$("modal").hidden) hideModal();
  else hideCommandMenu();
}

// ---- wiring --------------------------------------------------------------------------------

function init() {
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => setTab(button.dataset.tab));
  }
  $("lang-toggle").addEventListener("click", () => {
    state.lang = state.lang === "ru" ? "en" : "ru";
    localStorage.setItem("sandbox.lang", state.lang);
    applyLanguage();
  });
  $("teacher-select").addEventListener("change", (event) => selectTeacher(Number(event.target.value)));
  $("operator-select").addEventListener("change", (event) => { state.operatorId = Number(event.target.value); });
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("chat-input");
    const text = input.value;
    input.value = "";
    hideCommandMenu();
    sendTeacherText(text);
  });
  $("topic-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("topic-input");
    const text = input.value;
    input.value = "";
    sendOperatorText(text);
  });
  for (const button of document.querySelectorAll(".quick-commands button")) {
    button.addEventListener("click", () => {
      const command = button.dataset.command;
      if (command.endsWith(" ")) { $("topic-input").value = command; $("topic-input").focus(); }
      else sendOperatorText(command);
    });
  }
  $("chat-file").addEventListener("change", (event) => uploadFile(event.target, { user_id: state.teacherId, caption: $("chat-input").value }));
  $("topic-file").addEventListener("change", (event) => uploadFile(event.target, {
    user_id: state.operatorId, chat_id: state.helpdeskId, message_thread_id: state.topicId ?? "",
  }));
  $("vpn-toggle").addEventListener("change", (event) => {
    api(`/api/phone/${state.teacherId}/vpn`, { json: { enabled: event.target.checked } }).then(() => pollPhone());
  });
  $("modal").addEventListener("click", (event) => { if (event.target.id === "modal") hideModal(); });
  document.addEventListener("keydown", onKey);
  $("chat-input").addEventListener("input", () => updateCommandMenu().catch(() => hideCommandMenu()));
  $("chat-input").addEventListener("blur", hideCommandMenu);
  $("new-teacher").addEventListener("click", () => addTeacher().catch(() => {}));
  $("reset-demo").addEventListener("click", confirmReset);
  window.addEventListener("resize", renderTabBadges);
  document.addEventListener("visibilitychange", () => pollPhone());
  trackStickiness($("chat-messages"));
  trackStickiness($("topic-messages"));
  applyLanguage();
  setTab(location.hash.slice(1) || "mesh");
  connect();
}

document.addEventListener("DOMContentLoaded", init);
