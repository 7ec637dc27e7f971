package wire

import (
	"golang.org/x/text/language"

	"github.com/korobka/korobka/chat"
)

// Error messages follow the caller's Accept-Language like every other
// string people read (the screens' strings/<lang>.yaml); the code never
// changes. English is the message the error carries; every other language
// has one message per code here, written for people, so a code added
// without its translation fails TestEveryErrorCodeTranslated. The
// English text may name the exact field or bound; the translation says the
// same in general terms.
var errorMessages = map[string]map[string]string{
	"ru": {
		"address_book_full":      "Адресная книга заполнена: удалите лишние номера.",
		"bad_handshake":          "Этот адрес принимает только подключение WebSocket.",
		"body_too_large":         "Слишком большой запрос.",
		"client_id_conflict":     "Этот client_id уже использован для другого сообщения в этом чате; для новых сообщений нужны новые id.",
		"conflict":               "Уже существует.",
		"contacts_rate_limited":  "Слишком много новых номеров за сутки. Попробуйте завтра.",
		"file_too_large":         "Файл больше 25 МБ.",
		"forbidden":              "Недостаточно прав.",
		"image_too_complex":      "Изображение слишком сложное для обработки.",
		"image_too_large":        "Изображение слишком большое.",
		"internal":               "Внутренняя ошибка сервера.",
		"layout_too_large":       "Экран получился слишком большим.",
		"invalid_app_id":         "Неверный app_id: идентификатор приложения из латинских букв, цифр, «.», «_» и «-».",
		"invalid_attachment":     "Вложения: не больше 10 собственных загрузок.",
		"invalid_before":         "Параметр before — номер сообщения.",
		"invalid_client_id":      "client_id — от 1 до 64 латинских букв, цифр, «-» или «_».",
		"invalid_code":           "Код неверный или устарел. Проверьте последнее SMS или запросите новый код.",
		"invalid_cursor":         "Этот курсор выдан не этим сервером.",
		"invalid_device_token":   "Неверный push-токен устройства.",
		"invalid_file_name":      "Имя файла — не больше 200 видимых символов.",
		"invalid_frame":          "Неверный кадр WebSocket.",
		"invalid_image":          "Не удалось прочитать изображение.",
		"invalid_json":           "Тело запроса — неверный JSON.",
		"invalid_limit":          "Неверное значение limit.",
		"invalid_locale":         "locale — языковой тег, например ru-RU.",
		"invalid_media_key":      "Неверная ссылка на файл.",
		"invalid_media_url":      "Эта ссылка на файл недействительна.",
		"invalid_multipart":      "Не удалось прочитать составное тело запроса.",
		"invalid_mute":           "Неверные настройки уведомлений.",
		"invalid_name":           "Имя — от 1 до 64 символов текста.",
		"invalid_param":          "Неверный параметр экрана.",
		"invalid_phone":          "Неверный номер телефона.",
		"invalid_phones":         "Неверный список номеров.",
		"invalid_platform":       "platform — apns или fcm.",
		"invalid_presence":       "Видимость в сети: everybody, contacts или nobody.",
		"invalid_query":          "Текст поиска — не больше 64 символов.",
		"invalid_seq":            "seq — целое положительное число.",
		"invalid_since":          "Неверное значение since.",
		"invalid_subject":        "Тема — не больше 128 видимых символов.",
		"invalid_text":           "Сообщение — от 1 до 4096 символов текста.",
		"invalid_time_zone":      "Часовой пояс — имя из базы IANA, например Europe/Moscow.",
		"invalid_token":          "Сессия недействительна: войдите снова.",
		"invalid_until":          "until — время в будущем, не дальше года.",
		"invalid_user":           "Для личного чата нужен другой пользователь.",
		"media_busy":             "Сервер занят обработкой изображений; попробуйте через минуту.",
		"media_url_expired":      "Ссылка на файл устарела; обновите сообщение.",
		"method_not_allowed":     "Этот адрес не принимает такой метод.",
		"missing_file":           "Файл не передан или пустой.",
		"missing_param":          "Не хватает параметра экрана.",
		"missing_token":          "Нужно войти.",
		"not_found":              "Не найдено.",
		"not_ready":              "Сервер пока не готов.",
		"origin_not_allowed":     "С этого сайта нельзя подключиться.",
		"rate_limited":           "Слишком много запросов; попробуйте позже.",
		"request_timeout":        "Запрос передавался слишком медленно.",
		"shutting_down":          "Сервер перезапускается; подключитесь через минуту.",
		"sms_failed":             "Не удалось отправить код; попробуйте позже.",
		"sms_unavailable":        "Не удалось отправить SMS. Попробуйте позже.",
		"token_reused":           "Этот токен обновления уже использован; сессия завершена.",
		"too_many_attempts":      "Слишком много неверных кодов. Запросите новый код или подождите и попробуйте этот снова.",
		"too_many_dialogs":       "Не больше 500 чатов за одну синхронизацию.",
		"too_many_phones":        "Не больше 5000 номеров за один запрос.",
		"unavailable":            "Сервис временно недоступен; попробуйте позже.",
		"unknown_fragment":       "Нет такого фрагмента экрана.",
		"unknown_field":          "Неизвестное поле в запросе.",
		"unknown_fixture":        "У этого экрана нет такого примера данных.",
		"unknown_screen":         "Нет такого экрана.",
		"unknown_type":           "Неизвестный тип кадра.",
		"unsupported_media_type": "Этот формат не принимается.",
		"unsupported_phone":      "Коды входа отправляются только на мобильные номера стран, которые обслуживает сервис.",
		"user_blocked":           "Эта учётная запись заблокирована.",
		"already_member":         "Все указанные уже состоят в группе.",
		"cannot_remove_owner":    "Владельца нельзя удалить из группы; владелец может выйти сам.",
		"collection_full":        "В коллекции больше нет места для документов.",
		"document_too_large":     "Документ слишком большой.",
		"documents_mismatch":     "Документ коллекции не подходит под новую схему.",
		"id_mismatch":            "id в данных должен совпадать с id документа.",
		"invalid_actor":          "actor — id пользователя.",
		"invalid_avatar":         "avatar_upload_id — изображение, которое вы загрузили.",
		"invalid_blocked":        "blocked — true или false.",
		"invalid_collection":     "Имя коллекции — от 1 до 64 символов a-z, 0-9 и _, начиная с буквы.",
		"invalid_days":           "Неверное число дней.",
		"invalid_document_id":    "id документа — от 1 до 64 символов a-z, 0-9, _ и -.",
		"invalid_entities":       "Упоминания: не больше 50, каждое начинается с @, не пересекается с другими и называет участника чата.",
		"invalid_kind":           "kind — direct или group.",
		"invalid_media_kind":     "Укажите kind: photo, video или file.",
		"invalid_members":        "member_ids — список id пользователей.",
		"invalid_order":          "Назовите каждый документ коллекции ровно один раз.",
		"invalid_position":       "Неверная позиция документа.",
		"invalid_reply":          "reply_to — номер сообщения этого чата, которое вам доступно.",
		"invalid_role":           "Неверная роль.",
		"invalid_schema":         "Схема не компилируется.",
		"invalid_segment":        "Неверный сегмент рассылки.",
		"invalid_tags":           "Теги — не более 16 слов из латинских строчных букв, цифр, _ и -, до 32 символов каждое.",
		"unknown_tag":            "Этот тег не стоит ни на одной форме, новости или товаре: рассылка никого не найдёт.",
		"invalid_title":          "Название группы — от 1 до 128 видимых символов.",
		"invalid_video":          "Не удалось прочитать видео: нужен MP4, MOV или WebM.",
		"media_url_revoked":      "Ссылка на файл больше не действует; обновите сообщение.",
		"missing_data":           "Новому документу нужны данные.",
		"no_collection":          "Такой коллекции нет.",
		"no_document":            "Такого документа нет.",
		"no_form":                "Такой формы нет.",
		"no_version":             "У экрана нет загруженной версии, которую можно откатить.",
		"screens_from_folder":    "Экраны здесь берутся из папки KOROBKA_SCREENS: меняйте файлы в ней.",
		"invalid_screen":         "Экран не прошёл проверку или примеры данных; ничего не изменилось.",
		"not_a_group":            "Это не группа.",
		"not_a_member":           "Этот пользователь не состоит в группе.",
		"not_permitted":          "Ваша роль в этой группе не позволяет это сделать.",
		"cannot_pin":             "Закрепить можно только неудалённое сообщение, не системное.",
		"own_account":            "Администратор не может заблокировать себя или сменить свою роль; попросите другого администратора.",
		"schema_mismatch":        "Документ не подходит под схему коллекции.",
		"schema_too_large":       "Схема коллекции слишком большая.",
		"too_many_api_keys":      "Слишком много действующих ключей: сначала отзовите один.",
		"invalid_upload":         "Опубликовать можно только собственную загрузку-изображение.",
		"not_operator":           "Диалоги назначаются только операторам и администраторам.",
		"invalid_url":            "Адрес вебхука — http или https на публичном хосте, не длиннее 2048 символов.",
		"invalid_events":         "Укажите одно или несколько событий: message.created, dialog.created, user.registered, content.changed, form.submitted.",
		"too_many_webhooks":      "Вебхуков уже слишком много: сначала удалите ненужный.",
		"too_many_collections":   "Достигнут предел числа коллекций.",
		"too_many_groups":        "Достигнут предел числа групп для пользователя.",
		"too_many_members":       "В группе достигнут предел участников.",
		"unknown_user":           "Некоторые из member_ids — не пользователи этого сервиса.",
		"user_unavailable":       "Некоторых из member_ids нельзя добавить.",
		"video_too_large":        "Видео слишком большое.",
	},
}

// errorLangs are the languages error messages are written in, English
// (the errors' own text) first: the fallback.
var errorLangs = []language.Tag{language.English, language.Russian}

var errorMatcher = language.NewMatcher(errorLangs)

// ErrorLang picks the language of error messages for an Accept-Language
// header ("ru-RU, en;q=0.8"): "en" or "ru", by the CLDR matcher of
// golang.org/x/text; anything unknown or malformed is English.
func ErrorLang(acceptLanguage string) string {
	if acceptLanguage == "" || len(acceptLanguage) > 256 {
		return "en"
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return "en"
	}
	_, i, conf := errorMatcher.Match(tags...)
	if conf == language.No {
		return "en"
	}
	base, _ := errorLangs[i].Base()
	return base.String()
}

// LocalMessage is e's message in lang ("en", "ru"): its own text in
// English or when the language has no text for the code. Handlers that
// answer an error with more than the error body (an invalid screen's
// diagnostics) word it with this.
func LocalMessage(e *chat.Error, lang string) string { return localMessage(e, lang) }

// localMessage is LocalMessage.
func localMessage(e *chat.Error, lang string) string {
	if m, ok := errorMessages[lang][e.Code]; ok {
		return m
	}
	return e.Message
}
