package chat

import "strings"

// SystemText renders a system message in a reader's language ("ru" or
// "en"; anything else is English), with names giving each user's display
// name by id (a missing one shows as the placeholder of the language).
// Russian phrases use the present tense, which has no grammatical gender,
// and list names after a colon, so no name needs declining. The table is
// docs/api.md's ("System messages").
func SystemText(e SystemEvent, lang string, names map[string]string) string {
	ru := lang == "ru"
	name := func(id string) string {
		if n := strings.TrimSpace(names[id]); n != "" {
			return n
		}
		if ru {
			return "Участник"
		}
		return "A member"
	}
	list := func() string {
		out := make([]string, len(e.Users))
		for i, id := range e.Users {
			out[i] = name(id)
		}
		return strings.Join(out, ", ")
	}
	actor := name(e.Actor)
	switch e.Type {
	case SystemCreated:
		if ru {
			return actor + " создаёт группу «" + e.Title + "»"
		}
		return actor + " created the group «" + e.Title + "»"
	case SystemMemberAdded:
		if ru {
			return actor + " добавляет в группу: " + list()
		}
		return actor + " added " + list()
	case SystemMemberRemoved:
		if ru {
			return actor + " удаляет из группы: " + list()
		}
		return actor + " removed " + list()
	case SystemMemberLeft:
		if ru {
			return actor + " покидает группу"
		}
		return actor + " left the group"
	case SystemRenamed:
		if ru {
			return actor + " переименовывает группу в «" + e.Title + "»"
		}
		return actor + " renamed the group to «" + e.Title + "»"
	case SystemPhotoChanged:
		if ru {
			return actor + " меняет фото группы"
		}
		return actor + " changed the group photo"
	case SystemOwnership:
		if ru {
			return list() + " теперь владелец группы"
		}
		return list() + " is the owner now"
	case SystemPinned:
		if ru {
			return actor + " закрепляет сообщение «" + e.Title + "»"
		}
		return actor + " pinned «" + e.Title + "»"
	case SystemUnpinned:
		if ru {
			return actor + " открепляет сообщение"
		}
		return actor + " unpinned a message"
	case SystemRoleChanged:
		switch {
		case ru && e.Role == GroupAdmin:
			return actor + " назначает администратором: " + list()
		case ru:
			return actor + " снимает права администратора: " + list()
		case e.Role == GroupAdmin:
			return actor + " made " + list() + " an admin"
		default:
			return actor + " made " + list() + " a member"
		}
	}
	if ru {
		return "Изменения в группе"
	}
	return "The group changed"
}
