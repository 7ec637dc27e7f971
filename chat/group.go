package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Groups: dialogs of many members with roles (docs/api.md, "Groups").
//
// Every change to a group (members added, removed or leaving, a new title
// or photo, a role, the ownership passing on) is made by one store
// transaction (GroupStore.EditGroup) that locks the group and its members,
// lets the Service decide against them by the one permission table below,
// and appends what happened as system messages: structured events that take
// the next seqs and change numbers of the dialog like any message, so sync
// replays them, and that never count as unread. After the commit the
// members' cache is invalidated on every node (Membership) and the events
// are published.

// GroupRole is a member's place in a group. A direct dialog's members are
// all GroupMember.
type GroupRole string

// Group roles, from the most to the least powerful.
const (
	GroupOwner  GroupRole = "owner"
	GroupAdmin  GroupRole = "admin"
	GroupMember GroupRole = "member"
)

// rank orders roles: a higher rank may do more.
func (r GroupRole) rank() int {
	switch r {
	case GroupOwner:
		return 3
	case GroupAdmin:
		return 2
	case GroupMember:
		return 1
	}
	return 0
}

// GroupAction is something a member may be allowed to do in a group.
type GroupAction string

// Group actions of the permission table.
const (
	ActionAddMembers     GroupAction = "add_members"
	ActionRemoveMembers  GroupAction = "remove_members"
	ActionRename         GroupAction = "rename"
	ActionChangePhoto    GroupAction = "change_photo"
	ActionPin            GroupAction = "pin"
	ActionDeleteOthers   GroupAction = "delete_others_messages"
	ActionPromote        GroupAction = "promote"
	ActionChangeSettings GroupAction = "change_settings"
)

// groupRules is the permission table, defined here once: the least role
// that may take each action. docs/api.md ("Groups") prints it; GroupCan
// answers from it, and the group screens show actions by it. On top of
// it, removing someone also needs a higher role than theirs (an admin
// removes members, the owner admins and members; nobody removes the
// owner), and anyone may leave.
var groupRules = map[GroupAction]GroupRole{
	ActionAddMembers:     GroupAdmin,
	ActionRemoveMembers:  GroupAdmin,
	ActionRename:         GroupAdmin,
	ActionChangePhoto:    GroupAdmin,
	ActionPin:            GroupAdmin,
	ActionDeleteOthers:   GroupAdmin,
	ActionPromote:        GroupOwner,
	ActionChangeSettings: GroupOwner,
}

// groupActions lists the table's actions in the order documents show them.
var groupActions = []GroupAction{ActionAddMembers, ActionRemoveMembers, ActionRename, ActionChangePhoto,
	ActionPin, ActionDeleteOthers, ActionPromote, ActionChangeSettings}

// GroupCan reports whether a member with the role may take the action
// (groupRules).
func GroupCan(role GroupRole, a GroupAction) bool {
	least, ok := groupRules[a]
	return ok && role.rank() >= least.rank()
}

// GroupPermissions lists the actions a role may take, in table order.
func GroupPermissions(role GroupRole) []GroupAction {
	out := []GroupAction{}
	for _, a := range groupActions {
		if GroupCan(role, a) {
			out = append(out, a)
		}
	}
	return out
}

// GroupRules returns the permission table as (action, least role) pairs in
// table order, for documents and tests.
func GroupRules() [][2]string {
	out := make([][2]string, 0, len(groupActions))
	for _, a := range groupActions {
		out = append(out, [2]string{string(a), string(groupRules[a])})
	}
	return out
}

// SystemEventType names what a system message records.
type SystemEventType string

// System message types.
const (
	SystemCreated       SystemEventType = "created"        // Actor created the group titled Title
	SystemMemberAdded   SystemEventType = "member_added"   // Actor added Users
	SystemMemberRemoved SystemEventType = "member_removed" // Actor removed Users
	SystemMemberLeft    SystemEventType = "member_left"    // Actor left
	SystemRenamed       SystemEventType = "renamed"        // Actor renamed the group to Title
	SystemPhotoChanged  SystemEventType = "photo_changed"  // Actor changed (or removed) the photo
	SystemOwnership     SystemEventType = "ownership"      // Users[0] is the owner now
	SystemRoleChanged   SystemEventType = "role_changed"   // Actor gave Users the Role
	SystemPinned        SystemEventType = "pinned"         // Actor pinned message Seq (Title: its text, cut)
	SystemUnpinned      SystemEventType = "unpinned"       // Actor unpinned message Seq
)

// SystemEvent is the structured content of a system message, stored as it
// is sent (the message's "system"); shells and screens render it in the
// reader's language (SystemText). Ids are decimal strings, as everywhere
// on the wire.
//
// ActorName and UserNames are the display names of the actor and of the
// users (joined with ", ") when the event happened, so that a screen
// renders the message in any language without looking anyone up.
type SystemEvent struct {
	Type      SystemEventType `json:"type"`
	Actor     string          `json:"actor_id"`
	Users     []string        `json:"user_ids,omitempty"`
	Title     string          `json:"title,omitempty"`
	Role      GroupRole       `json:"role,omitempty"`
	Seq       int64           `json:"seq,omitempty"`
	ActorName string          `json:"actor_name"`
	UserNames string          `json:"user_names,omitempty"`
}

// names returns the display names of users ("First Last", trimmed).
func (s *Service) names(ctx context.Context, ids ...int64) (map[int64]string, error) {
	users, err := s.store.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(users))
	for _, u := range users {
		out[u.ID] = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	return out, nil
}

// named fills the names of events from names.
func named(events []SystemEvent, names map[int64]string) {
	for i := range events {
		e := &events[i]
		if id, err := ParseID(e.Actor); err == nil {
			e.ActorName = names[id]
		}
		list := make([]string, 0, len(e.Users))
		for _, u := range e.Users {
			if id, err := ParseID(u); err == nil && names[id] != "" {
				list = append(list, names[id])
			}
		}
		e.UserNames = strings.Join(list, ", ")
	}
}

// GroupEdit is one change to a group as GroupStore.EditGroup applies it.
// The store fills Dialog and Members (locked, members by user id) and
// calls the Service's decision with it, which sets what to write:
//
//   - Dialog.Title, Dialog.Avatar, Dialog.HistoryVisible and
//     Dialog.PinnedSeq may be changed;
//   - Add: users to add (role from Roles, else member); they see the
//     history from their join when Dialog.HistoryVisible is false;
//   - Remove: members to take out (their rows go; the history they had
//     stays on their devices only);
//   - Roles: new roles of members (added ones included);
//   - Events: system messages to append, in order, sent by Actor; their
//     client ids are the store's to make unique.
//
// After the commit Messages holds the system messages stored, Members the
// members as they are now, and OldAvatar the photo key that was replaced
// ("" when none), so the caller can delete its files.
type GroupEdit struct {
	Dialog  Dialog
	Members []Member
	Actor   int64
	Now     time.Time

	Add    []int64
	Remove []int64
	Roles  map[int64]GroupRole
	Events []SystemEvent

	Messages  []Message
	OldAvatar string
}

// member returns the locked member row of a user, if any.
func (e *GroupEdit) member(userID int64) (Member, bool) {
	for _, m := range e.Members {
		if m.UserID == userID {
			return m, true
		}
	}
	return Member{}, false
}

// GroupStore keeps groups: their members' roles and the changes to them,
// each with its system messages in one transaction.
type GroupStore interface {
	// CreateGroup inserts a group dialog created by creator with no
	// members, then applies edit to it as EditGroup does (the Service adds
	// the members and the created event). On any error nothing is stored.
	CreateGroup(ctx context.Context, creator int64, now time.Time, edit func(*GroupEdit) error) (GroupEdit, error)
	// EditGroup locks a group and its members, calls edit with them and
	// writes what it decided (see GroupEdit), all in one transaction:
	// members removed and added, roles, the dialog's title, avatar and
	// history setting, and the system messages, which take the next seqs
	// and change numbers and do not count as unread for anyone. ErrNotFound
	// for no group (a direct dialog included); an error from edit aborts
	// with nothing written.
	EditGroup(ctx context.Context, dialogID, actor int64, now time.Time, edit func(*GroupEdit) error) (GroupEdit, error)
	// EditDialog is EditGroup for a dialog of any kind, direct ones
	// included (pins); ErrNotFound for no dialog.
	EditDialog(ctx context.Context, dialogID, actor int64, now time.Time, edit func(*GroupEdit) error) (GroupEdit, error)
	// GroupCounts returns how many groups each of the users is a member
	// of (users in none are absent).
	GroupCounts(ctx context.Context, userIDs []int64) (map[int64]int, error)
	// MembersPage returns up to limit members of a dialog with user id
	// above after, by user id.
	MembersPage(ctx context.Context, dialogID, after int64, limit int) ([]Member, error)
	// Readers returns up to limit members of a dialog, other than
	// exclude, whose read watermark is at or past seq and who were in the
	// dialog when seq was sent (JoinedSeq < seq), with user id above
	// after, by user id.
	Readers(ctx context.Context, dialogID, seq, exclude, after int64, limit int) ([]Member, error)
	// MessagesBySeq returns the dialog's messages with the seqs that
	// exist, in any order (reply previews).
	MessagesBySeq(ctx context.Context, dialogID int64, seqs []int64) ([]Message, error)
}

// GroupConfig is the group policy of a deployment. Zero values mean the
// defaults.
type GroupConfig struct {
	// MaxMembers bounds the members of one group (KOROBKA_GROUP_MAX_MEMBERS).
	MaxMembers int
	// MaxPerUser bounds the groups one user is a member of
	// (KOROBKA_GROUP_MAX_PER_USER).
	MaxPerUser int
}

// Group defaults.
const (
	DefaultGroupMaxMembers = 1000
	DefaultGroupMaxPerUser = 500
	// GroupMembersPreview is how many members' profiles a group's view
	// carries (the first by user id); the rest are paged.
	GroupMembersPreview = 20
	// MaxGroupTitleLen is a title's length in characters (grapheme
	// clusters).
	MaxGroupTitleLen = 128
)

// Group errors. Each is answered before anything changes.
var (
	ErrInvalidTitle     = &Error{Kind: KindInvalid, Code: "invalid_title", Message: "A group title is 1 to 128 characters of visible text."}
	ErrNotGroup         = &Error{Kind: KindInvalid, Code: "not_a_group", Message: "This is not a group."}
	ErrNotPermitted     = &Error{Kind: KindForbidden, Code: "not_permitted", Message: "Your role in this group does not allow this."}
	ErrRemoveOwner      = &Error{Kind: KindForbidden, Code: "cannot_remove_owner", Message: "The owner cannot be removed; the owner may leave."}
	ErrTooManyMembers   = &Error{Kind: KindInvalid, Code: "too_many_members", Message: "A group holds at most %d members."}
	ErrTooManyGroups    = &Error{Kind: KindInvalid, Code: "too_many_groups", Message: "A user may be in at most %d groups."}
	ErrUnknownMember    = &Error{Kind: KindInvalid, Code: "unknown_user", Message: "Some of member_ids are not users of this service."}
	ErrMemberBlocked    = &Error{Kind: KindForbidden, Code: "user_unavailable", Message: "Some of member_ids cannot be added."}
	ErrAlreadyMember    = &Error{Kind: KindConflict, Code: "already_member", Message: "Everyone named is a member already."}
	ErrNotMember        = &Error{Kind: KindNotFound, Code: "not_a_member", Message: "This user is not a member of the group."}
	ErrInvalidGroupRole = &Error{Kind: KindInvalid, Code: "invalid_role", Message: "role is admin or member."}
	ErrInvalidMembers   = &Error{Kind: KindInvalid, Code: "invalid_members", Message: "member_ids is a list of user ids."}
	ErrInvalidGroupPic  = &Error{Kind: KindInvalid, Code: "invalid_avatar", Message: "avatar_upload_id names an image you uploaded."}
)

// errorN fills a limit into an error's message.
func errorN(e *Error, n int) *Error {
	c := *e
	c.Message = fmt.Sprintf(e.Message, n)
	return &c
}

// limitGroupEditsPerUser bounds the group changes one user makes.
var limitGroupEditsPerUser = Limit{Rate: 300, Period: time.Hour, Burst: 60}

// titleRule is the text policy of group titles (VARCHAR(255)).
var titleRule = TextRule{MaxChars: MaxGroupTitleLen, MaxRunes: 255}

// systemClientID is a fresh client id for a system message: system
// messages are nobody's retries.
func systemClientID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "sys-" + hex.EncodeToString(b[:])
}

// NewGroup is a request to create a group.
type NewGroup struct {
	Title          string
	MemberIDs      []string
	AvatarUploadID string // optional: an image the caller uploaded
}

// GroupUpdate is a change of a group's title, photo or settings; nil
// fields stay as they are. An AvatarUploadID of "" removes the photo.
type GroupUpdate struct {
	Title          *string
	AvatarUploadID *string
	HistoryVisible *bool
}

// GroupMemberView is one member in the wire form of the shell contract.
type GroupMemberView struct {
	ID       string    `json:"id"` // the member's user id, as in User
	User     Profile   `json:"user"`
	Role     GroupRole `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// MemberPage is one page of a group's members or of a message's readers.
type MemberPage struct {
	Members    []GroupMemberView `json:"members"`
	NextCursor string            `json:"next_cursor"`
}

func (s *Service) groupLimits() (maxMembers, maxPerUser int) {
	return s.groups.MaxMembers, s.groups.MaxPerUser
}

// parseMemberIDs reads a list of user ids, without repeats.
func parseMemberIDs(raw []string, limit int) ([]int64, error) {
	if len(raw) > limit {
		return nil, ErrInvalidMembers
	}
	ids := make([]int64, 0, len(raw))
	for _, r := range raw {
		id, err := ParseID(r)
		if err != nil {
			return nil, ErrInvalidMembers
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// checkNewMembers refuses users that do not exist or are blocked, and
// users who are in as many groups as they may be.
func (s *Service) checkNewMembers(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	users, err := s.store.Users(ctx, ids)
	if err != nil {
		return err
	}
	if len(users) != len(ids) {
		return ErrUnknownMember
	}
	for _, u := range users {
		if !u.BlockedAt.IsZero() {
			return ErrMemberBlocked
		}
	}
	counts, err := s.store.GroupCounts(ctx, ids)
	if err != nil {
		return err
	}
	_, perUser := s.groupLimits()
	for _, id := range ids {
		if counts[id] >= perUser {
			return errorN(ErrTooManyGroups, perUser)
		}
	}
	return nil
}

// groupPhoto makes a group photo of an image upload of the caller's: a
// copy of its files under a key of the group's own, which the group's
// members get signed URLs for (mediaurl.go). "" for none.
func (s *Service) groupPhoto(ctx context.Context, p Principal, uploadID string) (string, error) {
	if uploadID == "" {
		return "", nil
	}
	id, err := ParseID(uploadID)
	if err != nil {
		return "", ErrInvalidGroupPic
	}
	u, err := s.store.Upload(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && (u.OwnerID != p.UserID || u.State == UploadDeleted || u.Kind != UploadImage) {
		return "", ErrInvalidGroupPic
	}
	if err != nil {
		return "", err
	}
	return s.files.CopyUpload(ctx, u.Key)
}

// groupPhotoURLs signs a group photo's URLs for the group's members, as
// attachments are (mediaurl.go).
func (s *Service) groupPhotoURLs(dialogID int64, key string) (url, thumb string) {
	q := "?" + s.media.Query(key, s.dialogScope(dialogID), s.now())
	return "/media/" + key + ".jpg" + q, "/media/" + key + "_thumb.jpg" + q
}

// dialogScope is the media scope of a dialog's members, with its current
// media generation (from the membership cache; a failed read signs with
// generation 0, which the media handler then refuses for a group that had
// removals, so nothing is exposed).
func (s *Service) dialogScope(dialogID int64) MediaScope {
	gen, err := s.members.MediaGeneration(context.Background(), dialogID)
	if err != nil {
		s.log.Warn("media generation unknown", "dialog", dialogID, "err", err)
	}
	return MediaScope{Dialog: dialogID, Gen: gen}
}

// MediaGeneration is chat.MediaGate for the media handler.
func (s *Service) MediaGeneration(ctx context.Context, dialogID int64) (int64, error) {
	return s.members.MediaGeneration(ctx, dialogID)
}

func (s *Service) dropGroupPhoto(ctx context.Context, key string) {
	if key == "" {
		return
	}
	if err := s.files.DeleteUpload(context.WithoutCancel(ctx), key); err != nil {
		s.log.WarnContext(ctx, "group photo not removed", "key", key, "err", err)
	}
}

// CreateGroup creates a group titled req.Title with the caller as owner
// and the named users as members, and announces it to all of them. Every
// member must be a user who is not blocked and below the groups-per-user
// limit, and the group within the members limit; the title passes the
// text policy.
func (s *Service) CreateGroup(ctx context.Context, p Principal, req NewGroup) (DialogView, error) {
	maxMembers, _ := s.groupLimits()
	title, err := CleanText(req.Title, titleRule)
	if err != nil {
		return DialogView{}, textError(ErrInvalidTitle, err)
	}
	ids, err := parseMemberIDs(req.MemberIDs, maxMembers)
	if err != nil {
		return DialogView{}, err
	}
	ids = slices.DeleteFunc(ids, func(id int64) bool { return id == p.UserID })
	if len(ids)+1 > maxMembers {
		return DialogView{}, errorN(ErrTooManyMembers, maxMembers)
	}
	if err := s.allow(ctx, "dialog:user:"+FormatID(p.UserID), limitDialogsPerUser); err != nil {
		return DialogView{}, err
	}
	if err := s.checkNewMembers(ctx, append([]int64{p.UserID}, ids...)); err != nil {
		return DialogView{}, err
	}
	photo, err := s.groupPhoto(ctx, p, req.AvatarUploadID)
	if err != nil {
		return DialogView{}, err
	}
	names, err := s.names(ctx, append([]int64{p.UserID}, ids...)...)
	if err != nil {
		return DialogView{}, err
	}
	e, err := s.store.CreateGroup(ctx, p.UserID, s.now().UTC().Truncate(time.Microsecond), withNames(names, func(e *GroupEdit) error {
		e.Dialog.Title, e.Dialog.Avatar, e.Dialog.HistoryVisible = title, photo, true
		e.Add = append([]int64{p.UserID}, ids...)
		e.Roles = map[int64]GroupRole{p.UserID: GroupOwner}
		e.Events = []SystemEvent{{Type: SystemCreated, Actor: FormatID(p.UserID), Title: title}}
		if len(ids) > 0 {
			e.Events = append(e.Events, SystemEvent{Type: SystemMemberAdded, Actor: FormatID(p.UserID), Users: formatIDs(ids)})
		}
		return nil
	}))
	if err != nil {
		s.dropGroupPhoto(ctx, photo)
		return DialogView{}, err
	}
	return s.afterGroupEdit(ctx, p, e, nil, memberIDs(e.Members))
}

// AddMembers adds users to a group (admins and the owner: ActionAddMembers).
// Users already in it are skipped; when that leaves nobody, already_member.
func (s *Service) AddMembers(ctx context.Context, p Principal, dialogID int64, rawIDs []string) (DialogView, error) {
	maxMembers, _ := s.groupLimits()
	ids, err := parseMemberIDs(rawIDs, maxMembers)
	if err != nil {
		return DialogView{}, err
	}
	if len(ids) == 0 {
		return DialogView{}, ErrInvalidMembers
	}
	if err := s.groupAllowed(ctx, p, dialogID); err != nil {
		return DialogView{}, err
	}
	if err := s.checkNewMembers(ctx, ids); err != nil {
		return DialogView{}, err
	}
	var added []int64
	e, err := s.editGroup(ctx, p, dialogID, ids, func(e *GroupEdit) error {
		if err := e.must(p.UserID, ActionAddMembers); err != nil {
			return err
		}
		for _, id := range ids {
			if _, in := e.member(id); !in {
				added = append(added, id)
			}
		}
		if len(added) == 0 {
			return ErrAlreadyMember
		}
		if len(e.Members)+len(added) > maxMembers {
			return errorN(ErrTooManyMembers, maxMembers)
		}
		e.Add = added
		e.Events = []SystemEvent{{Type: SystemMemberAdded, Actor: FormatID(p.UserID), Users: formatIDs(added)}}
		return nil
	})
	if err != nil {
		return DialogView{}, err
	}
	return s.afterGroupEdit(ctx, p, e, nil, added)
}

// RemoveMember takes a member out of a group: ActionRemoveMembers, and a
// role above the member's (nobody removes the owner). The removed member
// gets the system message and nothing more from the group: on every node
// their sends, reads and media fetches of it answer not found from then
// on.
func (s *Service) RemoveMember(ctx context.Context, p Principal, dialogID, userID int64) error {
	if userID == p.UserID {
		return s.LeaveGroup(ctx, p, dialogID)
	}
	if err := s.groupAllowed(ctx, p, dialogID); err != nil {
		return err
	}
	e, err := s.editGroup(ctx, p, dialogID, []int64{userID}, func(e *GroupEdit) error {
		if err := e.must(p.UserID, ActionRemoveMembers); err != nil {
			return err
		}
		target, in := e.member(userID)
		if !in {
			return ErrNotMember
		}
		if target.Role == GroupOwner {
			return ErrRemoveOwner
		}
		self, _ := e.member(p.UserID)
		if target.Role.rank() >= self.Role.rank() {
			return ErrNotPermitted
		}
		e.Remove = []int64{userID}
		e.Events = []SystemEvent{{Type: SystemMemberRemoved, Actor: FormatID(p.UserID), Users: []string{FormatID(userID)}}}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.afterGroupEdit(ctx, p, e, []int64{userID}, nil)
	return err
}

// LeaveGroup takes the caller out of a group. When the owner leaves,
// ownership passes to the admin who joined first, else to the member who
// joined first (ties by user id), recorded by an ownership message.
func (s *Service) LeaveGroup(ctx context.Context, p Principal, dialogID int64) error {
	if err := s.groupAllowed(ctx, p, dialogID); err != nil {
		return err
	}
	// The heir is named from the members as they are now; should they
	// change before the edit, the message names the heir by id only.
	var heirs []int64
	if ms, err := s.store.Members(ctx, dialogID); err == nil {
		if h, ok := nextOwner(ms, p.UserID); ok {
			heirs = append(heirs, h)
		}
	}
	e, err := s.editGroup(ctx, p, dialogID, heirs, func(e *GroupEdit) error {
		self, in := e.member(p.UserID)
		if !in {
			return errDialogNotFound
		}
		e.Remove = []int64{p.UserID}
		e.Events = []SystemEvent{{Type: SystemMemberLeft, Actor: FormatID(p.UserID)}}
		if self.Role == GroupOwner {
			if heir, ok := nextOwner(e.Members, p.UserID); ok {
				e.Roles = map[int64]GroupRole{heir: GroupOwner}
				e.Events = append(e.Events, SystemEvent{Type: SystemOwnership, Actor: FormatID(p.UserID), Users: []string{FormatID(heir)}})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.afterGroupEdit(ctx, p, e, []int64{p.UserID}, nil)
	return err
}

// nextOwner picks who owns a group when its owner leaves: the admin who
// joined first, else the member who joined first; ties go to the lower
// user id. ok is false when nobody is left.
func nextOwner(members []Member, leaving int64) (int64, bool) {
	var best Member
	found := false
	for _, m := range members {
		if m.UserID == leaving {
			continue
		}
		if !found || m.Role.rank() > best.Role.rank() ||
			m.Role.rank() == best.Role.rank() && (m.JoinedAt.Before(best.JoinedAt) || m.JoinedAt.Equal(best.JoinedAt) && m.UserID < best.UserID) {
			best, found = m, true
		}
	}
	return best.UserID, found
}

// UpdateGroup renames a group, changes or removes its photo, or changes
// its history setting, each by the permission table (ActionRename,
// ActionChangePhoto, ActionChangeSettings); one request needs the right
// for every field it sets. A title passes the text policy.
func (s *Service) UpdateGroup(ctx context.Context, p Principal, dialogID int64, upd GroupUpdate) (DialogView, error) {
	var title string
	if upd.Title != nil {
		t, err := CleanText(*upd.Title, titleRule)
		if err != nil {
			return DialogView{}, textError(ErrInvalidTitle, err)
		}
		title = t
	}
	if upd.Title == nil && upd.AvatarUploadID == nil && upd.HistoryVisible == nil {
		return s.Dialog(ctx, p, dialogID)
	}
	if err := s.groupAllowed(ctx, p, dialogID); err != nil {
		return DialogView{}, err
	}
	var photo string
	if upd.AvatarUploadID != nil {
		// The right is checked before the copy, and again in the
		// transaction (roles may change in between).
		if err := s.checkGroupRight(ctx, p, dialogID, ActionChangePhoto); err != nil {
			return DialogView{}, err
		}
		var err error
		if photo, err = s.groupPhoto(ctx, p, *upd.AvatarUploadID); err != nil {
			return DialogView{}, err
		}
	}
	e, err := s.editGroup(ctx, p, dialogID, nil, func(e *GroupEdit) error {
		actor := FormatID(p.UserID)
		if upd.Title != nil {
			if err := e.must(p.UserID, ActionRename); err != nil {
				return err
			}
			if title != e.Dialog.Title {
				e.Dialog.Title = title
				e.Events = append(e.Events, SystemEvent{Type: SystemRenamed, Actor: actor, Title: title})
			}
		}
		if upd.AvatarUploadID != nil {
			if err := e.must(p.UserID, ActionChangePhoto); err != nil {
				return err
			}
			if photo != e.Dialog.Avatar {
				e.Dialog.Avatar = photo
				e.Events = append(e.Events, SystemEvent{Type: SystemPhotoChanged, Actor: actor})
			}
		}
		if upd.HistoryVisible != nil {
			if err := e.must(p.UserID, ActionChangeSettings); err != nil {
				return err
			}
			e.Dialog.HistoryVisible = *upd.HistoryVisible
		}
		return nil
	})
	if err != nil {
		s.dropGroupPhoto(ctx, photo)
		return DialogView{}, err
	}
	if e.OldAvatar != "" && e.OldAvatar != e.Dialog.Avatar {
		s.dropGroupPhoto(ctx, e.OldAvatar)
	}
	return s.afterGroupEdit(ctx, p, e, nil, nil)
}

// SetMemberRole makes a member an admin or a plain member again
// (ActionPromote: the owner). Ownership is not given this way; it passes
// on when the owner leaves.
func (s *Service) SetMemberRole(ctx context.Context, p Principal, dialogID, userID int64, role GroupRole) error {
	if role != GroupAdmin && role != GroupMember {
		return ErrInvalidGroupRole
	}
	if err := s.groupAllowed(ctx, p, dialogID); err != nil {
		return err
	}
	e, err := s.editGroup(ctx, p, dialogID, []int64{userID}, func(e *GroupEdit) error {
		if err := e.must(p.UserID, ActionPromote); err != nil {
			return err
		}
		target, in := e.member(userID)
		if !in {
			return ErrNotMember
		}
		if target.Role == GroupOwner {
			return ErrNotPermitted
		}
		if target.Role == role {
			return nil
		}
		e.Roles = map[int64]GroupRole{userID: role}
		e.Events = []SystemEvent{{Type: SystemRoleChanged, Actor: FormatID(p.UserID), Users: []string{FormatID(userID)}, Role: role}}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.afterGroupEdit(ctx, p, e, nil, nil)
	return err
}

// editGroup runs a group edit whose system messages name the caller and
// the users of named (GroupStore.EditGroup).
func (s *Service) editGroup(ctx context.Context, p Principal, dialogID int64, named []int64, edit func(*GroupEdit) error) (GroupEdit, error) {
	names, err := s.names(ctx, append([]int64{p.UserID}, named...)...)
	if err != nil {
		return GroupEdit{}, err
	}
	return s.store.EditGroup(ctx, dialogID, p.UserID, s.now().UTC().Truncate(time.Microsecond), withNames(names, edit))
}

// withNames is edit followed by naming the events it made.
func withNames(names map[int64]string, edit func(*GroupEdit) error) func(*GroupEdit) error {
	return func(e *GroupEdit) error {
		if err := edit(e); err != nil {
			return err
		}
		named(e.Events, names)
		return nil
	}
}

// must checks, inside the edit, that the actor is a member whose role
// allows the action.
func (e *GroupEdit) must(actor int64, a GroupAction) error {
	self, in := e.member(actor)
	if !in {
		return errDialogNotFound
	}
	if !GroupCan(self.Role, a) {
		return ErrNotPermitted
	}
	return nil
}

// groupAllowed checks the caller's membership (not found otherwise) and
// the rate of group changes.
func (s *Service) groupAllowed(ctx context.Context, p Principal, dialogID int64) error {
	if _, err := s.members.Check(ctx, p, dialogID); err != nil {
		return err
	}
	return s.allow(ctx, "group:user:"+FormatID(p.UserID), limitGroupEditsPerUser)
}

// checkGroupRight reads the caller's role outside a transaction, to spare
// work a refusal would waste; the edit checks again under its locks.
func (s *Service) checkGroupRight(ctx context.Context, p Principal, dialogID int64, a GroupAction) error {
	entries, err := s.store.Memberships(ctx, p.UserID, []int64{dialogID})
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return errDialogNotFound
	}
	if entries[0].Dialog.Kind != DialogGroup {
		return ErrNotGroup
	}
	if !GroupCan(entries[0].Self.Role, a) {
		return ErrNotPermitted
	}
	return nil
}

// afterGroupEdit runs once a group change is committed: every node drops
// its cached members of the group, the system messages go to the members
// (and to those removed, who learn of it and hear nothing more), the
// added members get the group in their list, and the caller gets its view
// (empty when the caller left).
func (s *Service) afterGroupEdit(ctx context.Context, p Principal, e GroupEdit, removed, added []int64) (DialogView, error) {
	d := e.Dialog.ID
	if err := s.members.Invalidate(ctx, d); err != nil {
		s.log.WarnContext(ctx, "membership change not announced to other nodes", "dialog", d, "err", err)
	}
	recipients := append(memberIDs(e.Members), removed...)
	var pubs []Publication
	for _, m := range e.Messages {
		v := s.view(m, StatusSent)
		pubs = appendEvent(pubs, Event{Type: EventMessage, Message: &v}, 0, recipients, 0)
	}
	if len(pubs) > 0 {
		if err := s.broker.Publish(ctx, pubs...); err != nil {
			s.log.WarnContext(ctx, "group change not published", "dialog", d, "err", err)
		}
	}
	if slices.Contains(removed, p.UserID) {
		return DialogView{}, nil
	}
	viewers := append([]int64{p.UserID}, slices.DeleteFunc(slices.Clone(added), func(id int64) bool { return id == p.UserID })...)
	views, err := s.viewsByID(ctx, p.UserID, d, viewers)
	if err != nil {
		return DialogView{}, err
	}
	if len(added) > 0 {
		announce := make(map[int64]DialogView, len(added))
		for _, id := range added {
			announce[id] = views[id]
		}
		s.announceDialog(ctx, d, announce)
	}
	return views[p.UserID], nil
}

// GroupMembers pages through a group's members by user id, with their
// roles; members of the dialog only.
func (s *Service) GroupMembers(ctx context.Context, p Principal, dialogID int64, cursor string, limit int) (MemberPage, error) {
	if _, err := s.members.Check(ctx, p, dialogID); err != nil {
		return MemberPage{}, err
	}
	after, err := parseUserCursor(cursor)
	if err != nil {
		return MemberPage{}, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	ms, err := s.store.MembersPage(ctx, dialogID, after, limit+1)
	if err != nil {
		return MemberPage{}, err
	}
	return s.memberPage(ctx, p, ms, limit)
}

// Readers pages through the members who read a message, the sender
// excluded; members of the dialog only, and only for messages they may
// see.
func (s *Service) Readers(ctx context.Context, p Principal, dialogID, seq int64, cursor string, limit int) (MemberPage, error) {
	from, err := s.members.VisibleFrom(ctx, p, dialogID)
	if err != nil {
		return MemberPage{}, err
	}
	if seq <= 0 || seq < from {
		return MemberPage{}, ErrNotFound
	}
	after, err := parseUserCursor(cursor)
	if err != nil {
		return MemberPage{}, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	msgs, err := s.store.MessagesAfter(ctx, dialogID, seq-1, 1)
	if err != nil {
		return MemberPage{}, err
	}
	if len(msgs) == 0 || msgs[0].Seq != seq {
		return MemberPage{}, ErrNotFound
	}
	ms, err := s.store.Readers(ctx, dialogID, seq, msgs[0].SenderID, after, limit+1)
	if err != nil {
		return MemberPage{}, err
	}
	return s.memberPage(ctx, p, ms, limit)
}

func (s *Service) memberPage(ctx context.Context, p Principal, ms []Member, limit int) (MemberPage, error) {
	page := MemberPage{Members: []GroupMemberView{}}
	if len(ms) > limit {
		ms = ms[:limit]
		page.NextCursor = FormatID(ms[limit-1].UserID)
	}
	users, err := s.store.Users(ctx, memberIDs(ms))
	if err != nil {
		return MemberPage{}, err
	}
	byID := make(map[int64]User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	for _, m := range ms {
		u, ok := byID[m.UserID]
		if !ok {
			continue
		}
		page.Members = append(page.Members, GroupMemberView{ID: FormatID(u.ID), User: u.Profile(u.ID == p.UserID), Role: m.Role, JoinedAt: m.JoinedAt.UTC()})
	}
	return page, nil
}

// parseUserCursor reads a member page cursor: the last user id of the
// previous page ("" is the start).
func parseUserCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := ParseID(s)
	if err != nil {
		return 0, ErrInvalidCursor
	}
	return id, nil
}

func memberIDs(ms []Member) []int64 {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	return ids
}

func formatIDs(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = FormatID(id)
	}
	return out
}
