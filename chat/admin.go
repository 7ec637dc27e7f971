package chat

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The admin core: users, roles and blocks, every dialog, the daily
// figures. Admins may do all of it; operators may look users up (who is
// this client?) and nothing else here. Every change is written to the
// audit log (audit.go), and so is every look into a dialog.

// AdminStore is the storage the admin use cases need beyond the other
// aggregates.
type AdminStore interface {
	// ListUsers returns up to limit users that match f, the most recently
	// registered first, strictly after f.After.
	ListUsers(ctx context.Context, f UserFilter, limit int) ([]User, error)
	// SetUserRole gives the user a role (ErrNotFound for no user).
	SetUserRole(ctx context.Context, id int64, role Role) (User, error)
	// SetBlocked blocks the user at at, or unblocks them when at is zero
	// (ErrNotFound for no user). Blocking a blocked user keeps the time
	// of the first block.
	SetBlocked(ctx context.Context, id int64, at time.Time) (User, error)
	// AllDialogs returns up to limit dialogs with an id below before
	// (before <= 0: from the newest), newest first.
	AllDialogs(ctx context.Context, before int64, limit int) ([]Dialog, error)
	// CountUsers counts the users: all, blocked, and by role.
	CountUsers(ctx context.Context) (UserCounts, error)
	// MarkActive records that the users were active on the day
	// (yyyymmdd, UTC); marking twice is no error.
	MarkActive(ctx context.Context, day int, userIDs []int64) error
	// AddDailyCounts adds node's counts to its rows of each day and
	// counter, all in one transaction.
	AddDailyCounts(ctx context.Context, node string, counts map[DayCounter]int64) error
	// DailyFigures returns, for each day from..to (yyyymmdd, inclusive)
	// that has any, the active users and the counters summed over nodes,
	// oldest first.
	DailyFigures(ctx context.Context, from, to int) ([]DayFigures, error)
}

// UserFilter selects users for the admin's list and for broadcast
// segments: every field that is set must match.
type UserFilter struct {
	// Query is part of a name (case-insensitive, as SearchKey folds) or
	// the start of a phone number in E.164 ("+7916").
	Query   string
	Role    Role
	Blocked *bool
	// RegisteredFrom and RegisteredTo bound the registration time:
	// From <= created_at < To; zero leaves that side open.
	RegisteredFrom time.Time
	RegisteredTo   time.Time
	// Interacted, when not nil, keeps the users who submitted one of its
	// Forms or are members of a dialog about one of its Subjects (none
	// when both are empty). A broadcast by tag sets it (Segment.Tag).
	Interacted *Interaction
	// After continues a list: only users registered before it, or at the
	// same time with a smaller id.
	After UserCursor
}

// UserCursor is a place in the users' order (newest registration first,
// then id descending); the zero cursor is the start.
type UserCursor struct {
	CreatedAt time.Time
	ID        int64
}

// String is the cursor's opaque wire form, "" for the start.
func (c UserCursor) String() string {
	if c.ID == 0 {
		return ""
	}
	return strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + FormatID(c.ID)
}

// ParseUserCursor reads a cursor's wire form ("" is the start).
func ParseUserCursor(s string) (UserCursor, error) {
	if s == "" {
		return UserCursor{}, nil
	}
	at, id, ok := strings.Cut(s, ".")
	us, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return UserCursor{}, ErrInvalidCursor
	}
	n, err := ParseID(id)
	if err != nil {
		return UserCursor{}, ErrInvalidCursor
	}
	return UserCursor{CreatedAt: time.UnixMicro(us).UTC(), ID: n}, nil
}

// UserCounts are the user totals of the stats.
type UserCounts struct {
	Total   int64          `json:"total"`
	Blocked int64          `json:"blocked"`
	ByRole  map[Role]int64 `json:"by_role"`
}

// Counters of DayCounter.
const (
	CounterMessages = "messages" // messages stored
	CounterPushes   = "pushes"   // notifications a push service accepted
)

// DayCounter names one counter of one UTC day (yyyymmdd).
type DayCounter struct {
	Day     int
	Counter string
}

// DayFigures are one UTC day's figures.
type DayFigures struct {
	Day      string `json:"day"` // YYYY-MM-DD, UTC
	Actives  int64  `json:"actives"`
	Messages int64  `json:"messages"`
	Pushes   int64  `json:"pushes"`
}

// DayNumber is t's UTC day as yyyymmdd, the form the stats store days in.
func DayNumber(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

// DayString turns a yyyymmdd day into YYYY-MM-DD.
func DayString(day int) string {
	return time.Date(day/10000, time.Month(day/100%100), day%100, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// AdminUser is a user as the admin API shows them: the phone, the role
// and the block always, and when they registered and were last seen.
type AdminUser struct {
	ID             string     `json:"id"`
	Phone          string     `json:"phone"`
	FirstName      string     `json:"first_name"`
	LastName       string     `json:"last_name"`
	AvatarThumbURL string     `json:"avatar_thumb_url"`
	Role           Role       `json:"role"`
	Blocked        bool       `json:"blocked"`
	BlockedAt      *time.Time `json:"blocked_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	LastSeenAt     *time.Time `json:"last_seen_at,omitempty"`
}

// AdminUserOf is u's admin view.
func AdminUserOf(u User) AdminUser {
	v := AdminUser{ID: FormatID(u.ID), Phone: u.Phone, FirstName: u.FirstName, LastName: u.LastName,
		Role: u.Role, Blocked: !u.BlockedAt.IsZero(), CreatedAt: u.CreatedAt}
	if u.Avatar != "" {
		v.AvatarThumbURL = AvatarThumbURL(u.Avatar)
	}
	if !u.BlockedAt.IsZero() {
		t := u.BlockedAt
		v.BlockedAt = &t
	}
	if !u.LastSeenAt.IsZero() {
		t := u.LastSeenAt
		v.LastSeenAt = &t
	}
	return v
}

// AdminUserPage is a page of the admin's user list; Next continues it ("":
// the end).
type AdminUserPage struct {
	Users []AdminUser `json:"users"`
	Next  string      `json:"next,omitempty"`
}

// AdminDialog is a dialog as the admin API shows it.
type AdminDialog struct {
	ID            string        `json:"id"`
	Kind          DialogKind    `json:"kind"`
	Title         string        `json:"title"`
	Subject       string        `json:"subject"`
	CreatedAt     time.Time     `json:"created_at"`
	LastMessageAt *time.Time    `json:"last_message_at,omitempty"`
	Messages      int64         `json:"messages"` // the newest seq
	Members       []AdminUser   `json:"members,omitempty"`
	History       []MessageView `json:"history,omitempty"` // newest page, oldest first
}

// AdminDialogPage is a page of every dialog; Next continues it.
type AdminDialogPage struct {
	Dialogs []AdminDialog `json:"dialogs"`
	Next    string        `json:"next,omitempty"`
}

// Stats are the admin's figures: the users, and per UTC day of the last
// days the actives, the messages stored and the pushes sent.
type Stats struct {
	Users UserCounts   `json:"users"`
	Days  []DayFigures `json:"days"`
}

// Admin errors.
var (
	ErrSelfChange = &Error{Kind: KindConflict, Code: "own_account",
		Message: "Admins cannot block themselves or change their own role; ask another admin."}
	ErrInvalidRole = &Error{Kind: KindInvalid, Code: "invalid_role", Message: "A role is user, operator or admin."}
)

// MaxUserQuery bounds the user search text, in bytes.
const MaxUserQuery = 100

// MaxStatsDays is how many days the stats reach back at most.
const MaxStatsDays = 90

// normalizeUserQuery keeps the search to a phone prefix (digits after a
// plus, as E.164 starts) or a folded name part.
func normalizeUserQuery(q string) (string, error) {
	q = strings.TrimSpace(q)
	if len(q) > MaxUserQuery || !utf8.ValidString(q) {
		return "", Errorf(KindInvalid, "invalid_query", "A search is up to %d bytes of text.", MaxUserQuery)
	}
	if digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		if r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return 'x'
	}, q); digits != "" && !strings.Contains(digits, "x") {
		return "+" + digits, nil
	}
	return q, nil
}

// AdminUsers pages the users, newest registration first (admins and
// operators). cursor is the previous page's Next; limit 1..MaxPage (0:
// DefaultPage).
func (s *Service) AdminUsers(ctx context.Context, p Principal, f UserFilter, cursor string, limit int) (AdminUserPage, error) {
	if err := requireRole(p, RoleAdmin, RoleOperator); err != nil {
		return AdminUserPage{}, err
	}
	if f.Role != "" && !ValidRole(f.Role) {
		return AdminUserPage{}, ErrInvalidRole
	}
	q, err := normalizeUserQuery(f.Query)
	if err != nil {
		return AdminUserPage{}, err
	}
	f.Query = q
	if f.After, err = ParseUserCursor(cursor); err != nil {
		return AdminUserPage{}, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	us, err := s.store.ListUsers(ctx, f, limit+1)
	if err != nil {
		return AdminUserPage{}, err
	}
	page := AdminUserPage{Users: make([]AdminUser, 0, min(len(us), limit))}
	for i, u := range us {
		if i == limit {
			last := us[limit-1]
			page.Next = UserCursor{CreatedAt: last.CreatedAt, ID: last.ID}.String()
			break
		}
		if u.Phone == BusinessPhone {
			continue // the business account is no one's to manage (business.go)
		}
		page.Users = append(page.Users, AdminUserOf(u))
	}
	return page, nil
}

// AdminUser shows one user (admins and operators).
func (s *Service) AdminUser(ctx context.Context, p Principal, id int64) (AdminUser, error) {
	if err := requireRole(p, RoleAdmin, RoleOperator); err != nil {
		return AdminUser{}, err
	}
	u, err := s.store.User(ctx, id)
	if err != nil {
		return AdminUser{}, err
	}
	return AdminUserOf(u), nil
}

// BlockUser blocks or unblocks a user (admins). A block ends every session
// of the user at once, on every node (EndUserSessions), and the user
// cannot log in again (user_blocked) until unblocked. reason is kept in
// the audit entry.
func (s *Service) BlockUser(ctx context.Context, p Principal, id int64, blocked bool, reason string) (AdminUser, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return AdminUser{}, err
	}
	if id == p.UserID {
		return AdminUser{}, ErrSelfChange
	}
	reason = cleanDevice(reason) // printable, at most 200 bytes
	var at time.Time
	action := "user.unblock"
	if blocked {
		at, action = s.now(), "user.block"
	}
	u, err := s.store.SetBlocked(ctx, id, at)
	if err != nil {
		return AdminUser{}, err
	}
	if blocked {
		if err := s.EndUserSessions(ctx, id); err != nil {
			return AdminUser{}, err
		}
	}
	var details any
	if reason != "" {
		details = map[string]string{"reason": reason}
	}
	if err := s.audit(ctx, p, action, "user", FormatID(id), details); err != nil {
		return AdminUser{}, err
	}
	return AdminUserOf(u), nil
}

// SetUserRole gives a user a role (admins). The change ends the user's
// sessions at once on every node, so every shell of theirs logs in again
// under the new role.
func (s *Service) SetUserRole(ctx context.Context, p Principal, id int64, role Role) (AdminUser, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return AdminUser{}, err
	}
	if !ValidRole(role) {
		return AdminUser{}, ErrInvalidRole
	}
	if id == p.UserID {
		return AdminUser{}, ErrSelfChange
	}
	before, err := s.store.User(ctx, id)
	if err != nil {
		return AdminUser{}, err
	}
	u, err := s.store.SetUserRole(ctx, id, role)
	if err != nil {
		return AdminUser{}, err
	}
	if before.Role != role {
		if err := s.EndUserSessions(ctx, id); err != nil {
			return AdminUser{}, err
		}
	}
	if err := s.audit(ctx, p, "user.role", "user", FormatID(id),
		map[string]Role{"from": before.Role, "role": role}); err != nil {
		return AdminUser{}, err
	}
	return AdminUserOf(u), nil
}

// AdminDialogs pages every dialog, newest first (admins). cursor is the
// previous page's Next.
func (s *Service) AdminDialogs(ctx context.Context, p Principal, cursor string, limit int) (AdminDialogPage, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return AdminDialogPage{}, err
	}
	var before int64
	if cursor != "" {
		var err error
		if before, err = ParseID(cursor); err != nil {
			return AdminDialogPage{}, ErrInvalidCursor
		}
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	ds, err := s.store.AllDialogs(ctx, before, limit+1)
	if err != nil {
		return AdminDialogPage{}, err
	}
	more := len(ds) > limit
	if more {
		ds = ds[:limit]
	}
	page := AdminDialogPage{Dialogs: make([]AdminDialog, 0, len(ds))}
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	members, err := s.store.MembersOf(ctx, ids)
	if err != nil {
		return AdminDialogPage{}, err
	}
	byDialog := map[int64][]int64{}
	var userIDs []int64
	for _, m := range members {
		byDialog[m.DialogID] = append(byDialog[m.DialogID], m.UserID)
		userIDs = append(userIDs, m.UserID)
	}
	users, err := s.usersByID(ctx, userIDs)
	if err != nil {
		return AdminDialogPage{}, err
	}
	for _, d := range ds {
		v := adminDialogOf(d)
		for _, uid := range byDialog[d.ID] {
			if u, ok := users[uid]; ok {
				v.Members = append(v.Members, AdminUserOf(u))
			}
		}
		page.Dialogs = append(page.Dialogs, v)
	}
	if more {
		page.Next = FormatID(ds[len(ds)-1].ID)
	}
	return page, nil
}

// AdminDialog shows a dialog with its members and a page of its history
// (admins): messages before seq before (0: the newest), oldest first. Each
// look is written to the audit log before anything is shown.
func (s *Service) AdminDialog(ctx context.Context, p Principal, id, before int64, limit int) (AdminDialog, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return AdminDialog{}, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	d, err := s.store.Dialog(ctx, id)
	if err != nil {
		return AdminDialog{}, err
	}
	var details any
	if before > 0 {
		details = map[string]int64{"before": before}
	}
	if err := s.audit(ctx, p, "dialog.view", "dialog", FormatID(id), details); err != nil {
		return AdminDialog{}, err
	}
	ms, err := s.store.Members(ctx, id)
	if err != nil {
		return AdminDialog{}, err
	}
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return AdminDialog{}, err
	}
	v := adminDialogOf(d)
	for _, m := range ms {
		if u, ok := users[m.UserID]; ok {
			v.Members = append(v.Members, AdminUserOf(u))
		}
	}
	msgs, err := s.store.Messages(ctx, id, before, limit)
	if err != nil {
		return AdminDialog{}, err
	}
	v.History = make([]MessageView, len(msgs))
	for i, m := range msgs {
		v.History[i] = s.view(m, statusOf(m, ms))
	}
	return v, nil
}

func adminDialogOf(d Dialog) AdminDialog {
	v := AdminDialog{ID: FormatID(d.ID), Kind: d.Kind, Title: d.Title, Subject: d.Subject,
		CreatedAt: d.CreatedAt, Messages: d.LastSeq}
	if !d.LastMessageAt.IsZero() {
		t := d.LastMessageAt
		v.LastMessageAt = &t
	}
	return v
}

func (s *Service) usersByID(ctx context.Context, ids []int64) (map[int64]User, error) {
	out := map[int64]User{}
	if len(ids) == 0 {
		return out, nil
	}
	us, err := s.store.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		out[u.ID] = u
	}
	return out, nil
}

// Stats answers the admin's figures for the last days days, today
// included (1..MaxStatsDays; 0: 30).
func (s *Service) Stats(ctx context.Context, p Principal, days int) (Stats, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return Stats{}, err
	}
	if days == 0 {
		days = 30
	}
	if days < 1 || days > MaxStatsDays {
		return Stats{}, Errorf(KindInvalid, "invalid_param", "days is 1 to %d.", MaxStatsDays)
	}
	// What this node counted and has not written yet shows too.
	if err := s.stats.flush(ctx); err != nil {
		s.log.WarnContext(ctx, "stats not flushed", "err", err)
	}
	counts, err := s.store.CountUsers(ctx)
	if err != nil {
		return Stats{}, err
	}
	// CountUsers leaves out the business account (business.go): it is no
	// user of the app.
	now := s.now().UTC()
	from := DayNumber(now.AddDate(0, 0, -(days - 1)))
	figs, err := s.store.DailyFigures(ctx, from, DayNumber(now))
	if err != nil {
		return Stats{}, err
	}
	// Every day of the range, the quiet ones as zeros.
	have := map[string]DayFigures{}
	for _, f := range figs {
		have[f.Day] = f
	}
	out := Stats{Users: counts, Days: make([]DayFigures, 0, days)}
	for i := days - 1; i >= 0; i-- {
		day := DayString(DayNumber(now.AddDate(0, 0, -i)))
		f, ok := have[day]
		if !ok {
			f = DayFigures{Day: day}
		}
		out.Days = append(out.Days, f)
	}
	return out, nil
}

// Now is the Service's clock, for callers that stamp what they hand it.
func (s *Service) Now() time.Time { return s.now() }
