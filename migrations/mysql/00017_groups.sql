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
ALTER TABLE members
    ADD COLUMN role VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'member',
    ADD COLUMN visible_from BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN joined_seq BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT members_role_check CHECK (role IN ('owner', 'admin', 'member'));
ALTER TABLE dialogs
    ADD COLUMN history_visible TINYINT(1) NOT NULL DEFAULT 1,
    ADD COLUMN media_gen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages
    ADD COLUMN system_event JSON NULL,
    ADD COLUMN reply_to BIGINT NULL,
    ADD COLUMN entities JSON NULL;

-- +goose Down
ALTER TABLE messages DROP COLUMN entities, DROP COLUMN reply_to, DROP COLUMN system_event;
ALTER TABLE dialogs DROP COLUMN media_gen, DROP COLUMN history_visible;
ALTER TABLE members DROP CONSTRAINT members_role_check, DROP COLUMN joined_seq, DROP COLUMN visible_from, DROP COLUMN role;
