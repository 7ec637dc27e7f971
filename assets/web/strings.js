// strings.js: the few words the shell itself shows (banners, ticks, notes).
// Screen text comes localised from the server; these follow the same
// language preference so a Russian user does not get an English banner.

const S = {
  en: {
    offline: 'Waiting for network…',
    typing: 'typing…',
    online: 'online',
    last_seen: 'last seen at {t}',
    last_seen_yesterday: 'last seen yesterday at {t}',
    last_seen_on: 'last seen {d} at {t}',
    deleted: 'Message deleted',
    edited: 'edited',
    sent: 'Sent',
    delivered: 'Delivered',
    read: 'Read',
    uploads_soon: 'Sending files from the web app is not available yet.',
    photo_updated: 'Photo updated',
    photo_chosen: 'Photo chosen',
    saved: 'Saved',
    not_registered: 'This number does not use the app yet. It will appear in your contacts when it does.',
    blocked_link: 'This link cannot be opened.',
    send_failed: 'The message was not sent.',
    error: 'Something went wrong.',
    network: 'No connection to the server. Check the network and try again.',
    retry: 'Retry',
    error_title: 'This screen did not open',
    home: 'Back to chats',
    to_login: 'Back to sign-in',
    back: 'Back',
    to_bottom: 'To the newest messages',
  },
  ru: {
    offline: 'Ожидание сети…',
    typing: 'печатает…',
    online: 'в сети',
    last_seen: 'был(а) в {t}',
    last_seen_yesterday: 'был(а) вчера в {t}',
    last_seen_on: 'был(а) {d} в {t}',
    deleted: 'Сообщение удалено',
    edited: 'изм.',
    sent: 'Отправлено',
    delivered: 'Доставлено',
    read: 'Прочитано',
    uploads_soon: 'Отправка файлов из веб-версии пока недоступна.',
    photo_updated: 'Фото обновлено',
    photo_chosen: 'Фото выбрано',
    saved: 'Сохранено',
    not_registered: 'Этого номера пока нет в приложении. Он появится в контактах, когда человек зарегистрируется.',
    blocked_link: 'Эту ссылку нельзя открыть.',
    send_failed: 'Сообщение не отправлено.',
    error: 'Что-то пошло не так.',
    network: 'Нет связи с сервером. Проверьте интернет и попробуйте ещё раз.',
    retry: 'Повторить',
    error_title: 'Экран не открылся',
    home: 'К чатам',
    to_login: 'Ко входу',
    back: 'Назад',
    to_bottom: 'К новым сообщениям',
  },
};

function pick() {
  for (const l of navigator.languages ?? [navigator.language]) {
    const base = String(l).toLowerCase().split('-')[0];
    if (S[base]) return base;
  }
  return 'en';
}

const lang = pick();
const table = S[lang];

// locale is the language the shell's own strings are in ("en", "ru"), for
// Intl formatting next to them.
export const locale = () => lang;

// t returns the shell string for key with {name} placeholders filled.
export function t(key, args = {}) {
  const s = table[key] ?? S.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(args[k] ?? ''));
}
