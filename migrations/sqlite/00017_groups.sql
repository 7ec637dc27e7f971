-- Groups (docs/api.md, "Groups").
--
-- members.role: owner, admin or member (the permission table is
-- chat.groupRules); every member of a direct dialog is a member.
-- members.visible_from: the first seq the member may read (0: all of the
-- history). A member added to a group whose history is hidden sees from
-- the system message that added them.
-- members.joined_seq: the dialog's last_seq when the member joined; their
-- watermarks say nothing of the messages up to it (ticks, readers).
-- dialogs.history_visible: whether members added later see the history
-- from before they joined (1) or only from their join (0).
-- dialogs.media_gen: grows with every removal from the group; media URLs
-- of the dialog are signed with it, so those a removed member holds stop
-- working at once (chat/mediaurl.go).
--
-- messages.system_event: the structured event of a system message (chat.
-- SystemEvent as JSON: member_added, member_removed, member_left,
-- renamed, photo_changed, ownership, created), NULL for people's
-- messages. A system message takes a seq and a change number like any
-- message, so sync replays it, and never counts as unread.
-- messages.reply_to: the seq of the message replied to, NULL for none.
-- messages.entities: a JSON array of spans of the text (mentions), NULL
-- for none.

-- +goose Up
ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'admin', 'member'));
ALTER TABLE members ADD COLUMN visible_from INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dialogs ADD COLUMN history_visible INTEGER NOT NULL DEFAULT 1;
ALTER TABLE dialogs ADD COLUMN media_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN system_event TEXT NULL CHECK (system_event IS NULL OR json_valid(system_event));
ALTER TABLE messages ADD COLUMN reply_to INTEGER NULL;
ALTER TABLE messages ADD COLUMN entities TEXT NULL CHECK (entities IS NULL OR json_valid(entities));

-- +goose Down
ALTER TABLE messages DROP COLUMN entities;
ALTER TABLE messages DROP COLUMN reply_to;
ALTER TABLE messages DROP COLUMN system_event;
ALTER TABLE dialogs DROP COLUMN media_gen;
ALTER TABLE dialogs DROP COLUMN history_visible;
ALTER TABLE members DROP COLUMN joined_seq;
ALTER TABLE members DROP COLUMN visible_from;
ALTER TABLE members DROP COLUMN role;
