"""The free-text matcher: clear requests in Russian and English, with typos; never plain answers."""

import pytest

from bot.intents import MAX_TEXT_LENGTH, Intent, detect_intent

POSITIVE: list[tuple[str, Intent]] = [
    # forgotten password
    ("забыла пароль", Intent.FORGOT_PASSWORD),
    ("Забыл пароль!!!", Intent.FORGOT_PASSWORD),
    ("пароль забыла", Intent.FORGOT_PASSWORD),
    ("не помню пароль", Intent.FORGOT_PASSWORD),
    ("Я не помню свой пароль от VK ID", Intent.FORGOT_PASSWORD),
    ("забвла пороль", Intent.FORGOT_PASSWORD),
    ("забылапароль", Intent.FORGOT_PASSWORD),
    ("как восстановить пароль?", Intent.FORGOT_PASSWORD),
    ("Забыли или не установили пароль?", Intent.FORGOT_PASSWORD),
    ("пароль не установлен", Intent.FORGOT_PASSWORD),
    ("неверный пароль", Intent.FORGOT_PASSWORD),
    ("нет пароля", Intent.FORGOT_PASSWORD),
    ("Здравствуйте, я не могу вспомнить пароль, что делать?", Intent.FORGOT_PASSWORD),
    ("forgot password", Intent.FORGOT_PASSWORD),
    ("I forgot my password", Intent.FORGOT_PASSWORD),
    ("I don't remember the password", Intent.FORGOT_PASSWORD),
    ("reset password please", Intent.FORGOT_PASSWORD),
    ("forgott pasword", Intent.FORGOT_PASSWORD),
    # code not arriving
    ("не приходит смс", Intent.CODE_NOT_ARRIVING),
    ("смс не приходит", Intent.CODE_NOT_ARRIVING),
    ("код не пришёл", Intent.CODE_NOT_ARRIVING),
    ("Код не пришел", Intent.CODE_NOT_ARRIVING),
    ("звонок не поступает", Intent.CODE_NOT_ARRIVING),
    ("мне не звонят, звонка нет", Intent.CODE_NOT_ARRIVING),
    ("не получаю код", Intent.CODE_NOT_ARRIVING),
    ("нет смс", Intent.CODE_NOT_ARRIVING),
    ("не приходид смс", Intent.CODE_NOT_ARRIVING),
    ("неприходитсмс", Intent.CODE_NOT_ARRIVING),
    ("no sms", Intent.CODE_NOT_ARRIVING),
    ("I didn't get the code", Intent.CODE_NOT_ARRIVING),
    ("the call never came", Intent.CODE_NOT_ARRIVING),
    ("code is not arriving", Intent.CODE_NOT_ARRIVING),
    ("haven't received any sms", Intent.CODE_NOT_ARRIVING),
    # wrong number
    ("ошиблась номером", Intent.WRONG_NUMBER),
    ("я ошибся в номере", Intent.WRONG_NUMBER),
    ("номером ошиблась", Intent.WRONG_NUMBER),
    ("ввела не тот номер", Intent.WRONG_NUMBER),
    ("неправильный номер телефона", Intent.WRONG_NUMBER),
    ("хочу изменить номер", Intent.WRONG_NUMBER),
    ("wrong number", Intent.WRONG_NUMBER),
    ("I want to change the phone number", Intent.WRONG_NUMBER),
    # VPN
    ("у меня включен VPN", Intent.VPN),
    ("впн", Intent.VPN),
    ("может из-за vpn?", Intent.VPN),
    ("I use a VPN", Intent.VPN),
    # a person
    ("позовите человека", Intent.WANTS_HUMAN),
    ("позовите оператора", Intent.WANTS_HUMAN),
    ("позавите спецалиста", Intent.WANTS_HUMAN),
    ("оператор", Intent.WANTS_HUMAN),
    ("соедините со специалистом", Intent.WANTS_HUMAN),
    ("хочу поговорить с живым человеком", Intent.WANTS_HUMAN),
    ("нужна техподдержка", Intent.WANTS_HUMAN),
    ("talk to a human", Intent.WANTS_HUMAN),
    ("I need a real person", Intent.WANTS_HUMAN),
    ("operator please", Intent.WANTS_HUMAN),
    ("забыла пароль, позовите оператора", Intent.WANTS_HUMAN),  # a person wins
    # restart
    ("начать сначала", Intent.RESTART),
    ("давайте начнём заново", Intent.RESTART),
    ("заново", Intent.RESTART),
    ("start over", Intent.RESTART),
    ("let's start again", Intent.RESTART),
    ("restart", Intent.RESTART),
    # other help topics
    ("у меня уже есть профиль", Intent.EXISTING_PROFILE),
    ("профиль уже существует", Intent.EXISTING_PROFILE),
    ("I already have a profile", Intent.EXISTING_PROFILE),
    ("какой браузер нужен?", Intent.BROWSER),
    ("у меня Safari", Intent.BROWSER),
    ("which browser should I use", Intent.BROWSER),
    ("помогите", Intent.HELP),
    ("помогите пожалуйста", Intent.HELP),
    ("не получается", Intent.HELP),
    ("help", Intent.HELP),
    ("I'm stuck", Intent.HELP),
    ("не знаю что делать", Intent.HELP),
    ("Не знаю, что делать дальше", Intent.HELP),
    ("не понимаю что делать", Intent.HELP),
    ("незнаю что делать", Intent.HELP),
    ("не знаю чё делать", Intent.HELP),
    ("что делать?", Intent.HELP),
    ("что мне делать", Intent.HELP),
    ("и что дальше?", Intent.HELP),
    ("я запуталась", Intent.HELP),
    ("совсем запутался", Intent.HELP),
    ("I don't know what to do", Intent.HELP),
    ("what next?", Intent.HELP),
    ("I'm confused", Intent.HELP),
]

# Ordinary answers to the dialog's questions and everyday chat: never an intent.
NEGATIVE: list[str] = [
    "+7 916 123-45-67",
    "8 (916) 123 45 67",
    "89161234567",
    "9161234567",
    "14.03.1985",
    "14 марта 1985",
    "1985-03-14",
    "1 мая 1990 г.",
    "1234",
    "123456",
    "12 34",
    "Иванова Мария Петровна",
    "Иванова Мария",
    "Петров Иван Сергеевич",
    "Кодова Анна",
    "Король Анна Викторовна",
    "Мария",
    "да",
    "Да",
    "нет",
    "Нет",
    "нет.",
    "ок",
    "ok",
    "yes",
    "no",
    "женский",
    "мужской",
    "не знаю",
    "спасибо",
    "Спасибо, всё получилось!",
    "здравствуйте",
    "hello",
    "smirnova@mail.ru",
    "Qwerty123!",
    "Пароль123!",
    "ГБОУ Школа № 1234",
    "",
    "   ",
    "?!",
    "👍",
    "нет, другой аккаунт",
    "Да, это я",
    "I forgot my passport at school",
    "забота о детях",
    "не знаю",  # the branch question's answer, typed
    "Не знаю.",
    "знаю",
    "что?",
    "Что это?",
    "я не знаю, есть ли у меня профиль",  # a branch answer, not a cry for help
]


@pytest.mark.parametrize(("text", "intent"), POSITIVE)
def test_clear_requests_are_understood(text: str, intent: Intent) -> None:
    assert detect_intent(text) == intent


@pytest.mark.parametrize("text", NEGATIVE)
def test_ordinary_answers_mean_nothing(text: str) -> None:
    assert detect_intent(text) is None


def test_very_long_text_goes_to_people_not_the_matcher() -> None:
    letter = "Здравствуйте! " + "У нас в школе долгая история. " * 20 + "Забыла пароль."
    assert len(letter) > MAX_TEXT_LENGTH
    assert detect_intent(letter) is None


def test_intent_values_are_stable_names() -> None:
    # Analytics and handoff reasons store these strings.
    assert Intent("forgot_password") is Intent.FORGOT_PASSWORD
    assert {i.value for i in Intent} >= {
        "forgot_password",
        "code_not_arriving",
        "wrong_number",
        "vpn",
        "wants_human",
        "restart",
    }
