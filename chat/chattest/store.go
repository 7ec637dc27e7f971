package chattest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestStore checks that a chat.Store keeps the promises the Service relies
// on: codes whose attempts are counted atomically, users upserted by phone,
// sessions that rotate once and revoke their family when a rotated token
// comes back, address books kept by phone, and name search that folds case
// in any script and treats LIKE wildcards literally. When the store is also
// a chat.ContentStore, content seeding and ordering are checked too.
//
// open returns an empty store for one subtest and closes it in t.Cleanup;
// subtests run in parallel, each with its own store. Times are passed with
// microsecond precision, the finest both SQL dialects keep.
//
// Blocking a user is not part of chat.Store, so "a blocked user's sessions
// are not found" is left to each implementation's own tests.
func TestStore(t *testing.T, open func(t *testing.T) chat.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s chat.Store)
	}{
		{"Audit/AppendFilterPage", testAudit},
		{"Admin/ListUsers", testAdminListUsers},
		{"Admin/BlockRole", testAdminBlockRole},
		{"Admin/Dialogs", testAdminDialogs},
		{"Admin/DailyFigures", testAdminDailyFigures},
		{"Admin/BroadcastProgress", testBroadcastProgress},
		{"Admin/ScreenVersions", testScreenVersions},
		{"Preview/Cache", testPreviewCache},
		{"Preview/SetMessagePreview", testSetMessagePreview},
		{"OTP/PutTake", testOTPPutTake},
		{"OTP/ReplaceResetsAttempts", testOTPReplace},
		{"OTP/ConcurrentAttempts", testOTPConcurrent},
		{"OTP/NotFound", testOTPNotFound},
		{"User/Upsert", testUpsertUser},
		{"User/UpsertConcurrent", testUpsertUserConcurrent},
		{"User/NotFound", testUserNotFound},
		{"User/UpdateProfile", testUpdateProfile},
		{"User/SetTimeZone", testSetTimeZone},
		{"User/SetAvatar", testSetAvatar},
		{"User/SetRole", testSetRole},
		{"User/PresenceSetting", testPresenceSetting},
		{"Session/CreateAndFind", testSessionByAccess},
		{"Session/Conflict", testSessionConflict},
		{"Session/UnknownUser", testSessionUnknownUser},
		{"Session/Rotate", testRotateSession},
		{"Session/RotateChainReuse", testRotateChainReuse},
		{"Session/RotateInvalid", testRotateInvalid},
		{"Session/RotateConcurrent", testRotateConcurrent},
		{"Session/RevokeFamily", testRevokeFamily},
		{"Session/RevokeUserSessions", testRevokeUserSessions},
		{"Contacts/Sync", testSyncContacts},
		{"Contacts/RegisterLater", testContactsRegisterLater},
		{"Contacts/Sync5000", testSyncMany},
		{"Contacts/SyncEmpty", testSyncEmpty},
		{"Contacts/Search", testContactsSearch},
		{"Contacts/PerOwner", testContactsPerOwner},
		{"Contacts/CountNew", testCountNewContacts},
		{"Contacts/BookFull", testAddressBookFull},
		{"Contacts/BookFullConcurrent", testAddressBookFullConcurrent},
		{"Content/SeedAndOrder", testContentSeed},
		{"Content/Empty", testContentEmpty},
		{"Upload/CreateAndGet", testUploadCreateGet},
		{"Upload/NotFound", testUploadNotFound},
		{"Upload/Conflict", testUploadConflict},
		{"PingClose", testPingClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 has microseconds, so a store that drops them is caught.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// ---- helpers ----

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func newUser(t *testing.T, s chat.Store, phone string) chat.User {
	t.Helper()
	u, created, err := s.UpsertUser(ctxT(t), phone, t0)
	noErr(t, "UpsertUser "+phone, err)
	if !created {
		t.Fatalf("UpsertUser %s: got created false, want true", phone)
	}
	return u
}

func namedUser(t *testing.T, s chat.Store, phone, first, last string) chat.User {
	t.Helper()
	u := newUser(t, s, phone)
	u, err := s.UpdateProfile(ctxT(t), u.ID, chat.ProfileUpdate{FirstName: &first, LastName: &last})
	noErr(t, "UpdateProfile", err)
	return u
}

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func checkUser(t *testing.T, got, want chat.User) {
	t.Helper()
	if got.ID != want.ID || got.Phone != want.Phone || got.FirstName != want.FirstName ||
		got.LastName != want.LastName || got.Avatar != want.Avatar || got.Role != want.Role {
		t.Errorf("user: got %+v, want %+v", got, want)
	}
	checkTime(t, "user BlockedAt", got.BlockedAt, want.BlockedAt)
	checkTime(t, "user CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "user LastSeenAt", got.LastSeenAt, want.LastSeenAt)
}

func checkSession(t *testing.T, got, want chat.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.Family != want.Family ||
		!bytes.Equal(got.AccessHash, want.AccessHash) || !bytes.Equal(got.RefreshHash, want.RefreshHash) ||
		got.Device != want.Device {
		t.Errorf("session: got %+v, want %+v", got, want)
	}
	checkTime(t, "session CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "session AccessExpiresAt", got.AccessExpiresAt, want.AccessExpiresAt)
	checkTime(t, "session ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, "session RotatedAt", got.RotatedAt, want.RotatedAt)
	checkTime(t, "session RevokedAt", got.RevokedAt, want.RevokedAt)
}

func ids(users []chat.User) []int64 {
	out := make([]int64, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func sortedIDs(users []chat.User) []int64 {
	out := ids(users)
	slices.Sort(out)
	return out
}

func idsOf(users ...chat.User) []int64 { return sortedIDs(users) }

// newSession builds a login for user at t0: access for an hour, refresh for
// a month.
func newSession(user int64, device string) chat.Session {
	_, access := chat.NewToken()
	_, refresh := chat.NewToken()
	id := chat.NewID()
	return chat.Session{
		ID:              id,
		UserID:          user,
		Family:          id,
		AccessHash:      access,
		RefreshHash:     refresh,
		Device:          device,
		CreatedAt:       t0,
		AccessExpiresAt: t0.Add(time.Hour),
		ExpiresAt:       t0.Add(30 * 24 * time.Hour),
	}
}

// nextSession is what a refresh at now hands to RotateSession: no user or
// family, those are inherited.
func nextSession(now time.Time) chat.Session {
	ss := newSession(0, "")
	ss.Family = 0
	ss.CreatedAt = now
	ss.AccessExpiresAt = now.Add(time.Hour)
	ss.ExpiresAt = now.Add(30 * 24 * time.Hour)
	return ss
}

func mustCreateSession(t *testing.T, s chat.Store, ss chat.Session) {
	t.Helper()
	noErr(t, "CreateSession", s.CreateSession(ctxT(t), ss))
}

func wantNoAccess(t *testing.T, s chat.Store, what string, access []byte, now time.Time) {
	t.Helper()
	_, _, err := s.SessionByAccess(ctxT(t), access, now)
	wantErrIs(t, what, err, chat.ErrNotFound)
}

// ---- login codes ----

func testOTPPutTake(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	otp := chat.OTP{Phone: "+79990000001", Hash: []byte("hash-1"), Salt: []byte("salt-1"),
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	noErr(t, "PutOTP", s.PutOTP(ctx, otp))
	for want := 1; want <= 3; want++ {
		got, err := s.TakeOTPAttempt(ctx, otp.Phone)
		noErr(t, "TakeOTPAttempt", err)
		if got.Attempts != want {
			t.Errorf("attempt %d: got Attempts %d, want %d", want, got.Attempts, want)
		}
		if got.Phone != otp.Phone || !bytes.Equal(got.Hash, otp.Hash) || !bytes.Equal(got.Salt, otp.Salt) {
			t.Errorf("got %+v, want %+v", got, otp)
		}
		checkTime(t, "CreatedAt", got.CreatedAt, otp.CreatedAt)
		checkTime(t, "ExpiresAt", got.ExpiresAt, otp.ExpiresAt)
	}
}

func testOTPReplace(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	phone := "+79990000002"
	noErr(t, "PutOTP", s.PutOTP(ctx, chat.OTP{Phone: phone, Hash: []byte("old"), Salt: []byte("s1"),
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}))
	for range 4 {
		_, err := s.TakeOTPAttempt(ctx, phone)
		noErr(t, "TakeOTPAttempt", err)
	}
	later := t0.Add(time.Minute)
	noErr(t, "PutOTP again", s.PutOTP(ctx, chat.OTP{Phone: phone, Hash: []byte("new"), Salt: []byte("s2"),
		CreatedAt: later, ExpiresAt: later.Add(5 * time.Minute)}))
	got, err := s.TakeOTPAttempt(ctx, phone)
	noErr(t, "TakeOTPAttempt", err)
	if got.Attempts != 1 {
		t.Errorf("after replacing the code: got Attempts %d, want 1", got.Attempts)
	}
	if string(got.Hash) != "new" || string(got.Salt) != "s2" {
		t.Errorf("got hash %q salt %q, want the new code's \"new\" and \"s2\"", got.Hash, got.Salt)
	}
	checkTime(t, "ExpiresAt", got.ExpiresAt, later.Add(5*time.Minute))
}

// testOTPConcurrent is the property that keeps guessing bounded: however
// many guesses race, each one sees a distinct count.
func testOTPConcurrent(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	phone := "+79990000003"
	noErr(t, "PutOTP", s.PutOTP(ctx, chat.OTP{Phone: phone, Hash: []byte("h"), Salt: []byte("s"),
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}))
	const n = 20
	got := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			otp, err := s.TakeOTPAttempt(ctx, phone)
			got[i], errs[i] = otp.Attempts, err
		})
	}
	wg.Wait()
	noErr(t, "TakeOTPAttempt", errors.Join(errs...))
	slices.Sort(got)
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(got, want) {
		t.Errorf("attempts seen by %d concurrent guesses: got %v, want %v", n, got, want)
	}
}

func testOTPNotFound(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	phone := "+79990000004"
	_, err := s.TakeOTPAttempt(ctx, phone)
	wantErrIs(t, "TakeOTPAttempt with no code", err, chat.ErrNotFound)
	noErr(t, "DeleteOTP with no code", s.DeleteOTP(ctx, phone))

	noErr(t, "PutOTP", s.PutOTP(ctx, chat.OTP{Phone: phone, Hash: []byte("h"), Salt: []byte("s"),
		CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}))
	noErr(t, "DeleteOTP", s.DeleteOTP(ctx, phone))
	_, err = s.TakeOTPAttempt(ctx, phone)
	wantErrIs(t, "TakeOTPAttempt after DeleteOTP", err, chat.ErrNotFound)
}

// ---- users ----

func testUpsertUser(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	phone := "+79990000010"
	u, created, err := s.UpsertUser(ctx, phone, t0)
	noErr(t, "UpsertUser", err)
	if !created {
		t.Errorf("first UpsertUser: got created false, want true")
	}
	if u.ID <= 0 {
		t.Errorf("got id %d, want a positive id", u.ID)
	}
	want := chat.User{ID: u.ID, Phone: phone, Role: chat.RoleUser, CreatedAt: t0}
	checkUser(t, u, want)

	again, created, err := s.UpsertUser(ctx, phone, t0.Add(time.Hour))
	noErr(t, "second UpsertUser", err)
	if created {
		t.Errorf("second UpsertUser: got created true, want false")
	}
	checkUser(t, again, want) // CreatedAt is the first login's

	got, err := s.User(ctx, u.ID)
	noErr(t, "User", err)
	checkUser(t, got, want)

	other, created, err := s.UpsertUser(ctx, "+79990000011", t0)
	noErr(t, "UpsertUser other", err)
	if !created || other.ID == u.ID {
		t.Errorf("other phone: got created %v id %d, want a new user (not id %d)", created, other.ID, u.ID)
	}
}

// testUpsertUserConcurrent is two first logins of one number at once: both
// must end with the same account and neither with an error.
func testUpsertUserConcurrent(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	const n = 10
	users := make([]chat.User, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { users[i], created[i], errs[i] = s.UpsertUser(ctx, "+79990000012", t0) })
	}
	wg.Wait()
	noErr(t, "UpsertUser", errors.Join(errs...))
	creations := 0
	for i := range n {
		if created[i] {
			creations++
		}
		if users[i].ID != users[0].ID {
			t.Errorf("upsert %d: got id %d, want %d (one account per phone)", i, users[i].ID, users[0].ID)
		}
	}
	if creations != 1 {
		t.Errorf("got %d upserts reporting created, want 1", creations)
	}
}

func testUserNotFound(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	missing := chat.NewID()
	_, err := s.User(ctx, missing)
	wantErrIs(t, "User", err, chat.ErrNotFound)
	name := "x"
	_, err = s.UpdateProfile(ctx, missing, chat.ProfileUpdate{FirstName: &name})
	wantErrIs(t, "UpdateProfile", err, chat.ErrNotFound)
	_, _, err = s.SetAvatar(ctx, missing, "k")
	wantErrIs(t, "SetAvatar", err, chat.ErrNotFound)
}

func testUpdateProfile(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000020")
	first, last := "Анна", "Петрова"

	got, err := s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{FirstName: &first})
	noErr(t, "UpdateProfile first", err)
	u.FirstName = first
	checkUser(t, got, u)

	got, err = s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{LastName: &last})
	noErr(t, "UpdateProfile last", err)
	u.LastName = last
	checkUser(t, got, u)

	got, err = s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{})
	noErr(t, "UpdateProfile nothing", err)
	checkUser(t, got, u)

	empty := ""
	got, err = s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{LastName: &empty})
	noErr(t, "UpdateProfile clear last", err)
	u.LastName = ""
	checkUser(t, got, u)

	got, err = s.User(ctx, u.ID)
	noErr(t, "User", err)
	checkUser(t, got, u)
}

func testSetTimeZone(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000021")
	if u.TimeZone != "" {
		t.Errorf("a new user's zone is %q, want none", u.TimeZone)
	}
	for _, tz := range []string{"Europe/Moscow", "Europe/Moscow", "America/Argentina/Buenos_Aires"} {
		noErr(t, "SetTimeZone "+tz, s.SetTimeZone(ctx, u.ID, tz))
		got, err := s.User(ctx, u.ID)
		noErr(t, "User", err)
		if got.TimeZone != tz {
			t.Errorf("after SetTimeZone(%s) the user's zone is %q", tz, got.TimeZone)
		}
		// The zone is not a change a screen shows: names stay as they were.
		if got.FirstName != u.FirstName || got.Phone != u.Phone {
			t.Errorf("SetTimeZone changed the user: %+v", got)
		}
	}
	noErr(t, "SetTimeZone of no user", s.SetTimeZone(ctx, chat.NewID(), "UTC"))
}

func testSetAvatar(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000030")
	got, old, err := s.SetAvatar(ctx, u.ID, "a/1")
	noErr(t, "SetAvatar", err)
	if old != "" {
		t.Errorf("first SetAvatar: got old %q, want \"\"", old)
	}
	u.Avatar = "a/1"
	checkUser(t, got, u)

	got, old, err = s.SetAvatar(ctx, u.ID, "a/2")
	noErr(t, "SetAvatar", err)
	if old != "a/1" {
		t.Errorf("second SetAvatar: got old %q, want %q", old, "a/1")
	}
	u.Avatar = "a/2"
	checkUser(t, got, u)

	got, old, err = s.SetAvatar(ctx, u.ID, "")
	noErr(t, "SetAvatar remove", err)
	if old != "a/2" {
		t.Errorf("removing: got old %q, want %q", old, "a/2")
	}
	u.Avatar = ""
	checkUser(t, got, u)
}

// ---- uploads ----

func testUploadCreateGet(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000140")
	img := chat.Upload{ID: chat.NewID(), OwnerID: u.ID, Kind: chat.UploadImage, Key: "uploads/" + chat.FormatID(chat.NewID()),
		Name: "Фото отпуска.jpg", Size: 123456, Mime: "image/jpeg", Width: 2048, Height: 1536, CreatedAt: t0}
	file := chat.Upload{ID: chat.NewID(), OwnerID: u.ID, Kind: chat.UploadFile, Key: "uploads/" + chat.FormatID(chat.NewID()),
		Name: "report.pdf", Size: 30 << 20, Mime: "application/pdf", CreatedAt: t0.Add(time.Second)}
	for _, want := range []chat.Upload{img, file} {
		noErr(t, "CreateUpload", s.CreateUpload(ctx, want))
		got, err := s.Upload(ctx, want.ID)
		noErr(t, "Upload", err)
		if !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("created_at: got %v, want %v", got.CreatedAt, want.CreatedAt)
		}
		got.CreatedAt = want.CreatedAt
		want.State = chat.UploadUnattached
		if got != want {
			t.Errorf("Upload: got %+v, want %+v", got, want)
		}
	}
}

func testUploadNotFound(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	_, err := s.Upload(ctx, chat.NewID())
	wantErrIs(t, "Upload of an unknown id", err, chat.ErrNotFound)
	// An upload must belong to a user.
	err = s.CreateUpload(ctx, chat.Upload{ID: chat.NewID(), OwnerID: chat.NewID(), Kind: chat.UploadFile,
		Key: "uploads/x1", Name: "a", Size: 1, Mime: "text/plain; charset=utf-8", CreatedAt: t0})
	wantErrIs(t, "CreateUpload for an unknown user", err, chat.ErrNotFound)
}

func testUploadConflict(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000141")
	up := chat.Upload{ID: chat.NewID(), OwnerID: u.ID, Kind: chat.UploadFile, Key: "uploads/c1",
		Name: "a.txt", Size: 1, Mime: "text/plain; charset=utf-8", CreatedAt: t0}
	noErr(t, "CreateUpload", s.CreateUpload(ctx, up))
	wantErrIs(t, "CreateUpload with the same id", s.CreateUpload(ctx, up), chat.ErrConflict)
	up.ID = chat.NewID()
	wantErrIs(t, "CreateUpload with the same key", s.CreateUpload(ctx, up), chat.ErrConflict)
}

// ---- sessions ----

func testSessionByAccess(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000040")
	ss := newSession(u.ID, "iPhone 15")
	mustCreateSession(t, s, ss)

	got, role, err := s.SessionByAccess(ctx, ss.AccessHash, t0.Add(time.Minute))
	noErr(t, "SessionByAccess", err)
	checkSession(t, got, ss)
	if role != chat.RoleUser {
		t.Errorf("got role %q, want %q", role, chat.RoleUser)
	}

	wantNoAccess(t, s, "unknown access hash", chat.HashToken("nope"), t0)
	wantNoAccess(t, s, "refresh hash used as access", ss.RefreshHash, t0)
	wantNoAccess(t, s, "access at its expiry", ss.AccessHash, ss.AccessExpiresAt)
	wantNoAccess(t, s, "access after its expiry", ss.AccessHash, ss.AccessExpiresAt.Add(time.Second))
	_, _, err = s.SessionByAccess(ctx, ss.AccessHash, ss.AccessExpiresAt.Add(-time.Microsecond))
	noErr(t, "SessionByAccess a microsecond before expiry", err)
}

func testSessionConflict(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000041")
	ss := newSession(u.ID, "")
	mustCreateSession(t, s, ss)

	dupAccess := newSession(u.ID, "")
	dupAccess.AccessHash = ss.AccessHash
	wantErrIs(t, "same access hash", s.CreateSession(ctx, dupAccess), chat.ErrConflict)

	dupRefresh := newSession(u.ID, "")
	dupRefresh.RefreshHash = ss.RefreshHash
	wantErrIs(t, "same refresh hash", s.CreateSession(ctx, dupRefresh), chat.ErrConflict)

	dupID := newSession(u.ID, "")
	dupID.ID = ss.ID
	wantErrIs(t, "same id", s.CreateSession(ctx, dupID), chat.ErrConflict)
}

func testSessionUnknownUser(t *testing.T, s chat.Store) {
	err := s.CreateSession(ctxT(t), newSession(chat.NewID(), ""))
	wantErrIs(t, "CreateSession for an unknown user", err, chat.ErrNotFound)
}

func testRotateSession(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000050")
	first := newSession(u.ID, "Pixel 8")
	mustCreateSession(t, s, first)

	now := t0.Add(30 * time.Minute)
	next := nextSession(now)
	got, err := s.RotateSession(ctx, first.RefreshHash, next, now)
	noErr(t, "RotateSession", err)
	want := next
	want.UserID, want.Family, want.Device = u.ID, first.Family, first.Device
	checkSession(t, got, want)

	found, _, err := s.SessionByAccess(ctx, next.AccessHash, now)
	noErr(t, "SessionByAccess with the new access token", err)
	checkSession(t, found, want)

	// The replaced session is rotated, not revoked: its access token works
	// until it expires, so requests in flight during a refresh succeed.
	old, _, err := s.SessionByAccess(ctx, first.AccessHash, now)
	noErr(t, "SessionByAccess with the rotated session's access token", err)
	checkTime(t, "rotated session RotatedAt", old.RotatedAt, now)

	// The rotated refresh token coming back is theft: the family ends.
	later := now.Add(time.Minute)
	_, err = s.RotateSession(ctx, first.RefreshHash, nextSession(later), later)
	wantErrIs(t, "rotating an already rotated token", err, chat.ErrTokenReused)
	wantNoAccess(t, s, "new access after reuse", next.AccessHash, later)
	wantNoAccess(t, s, "old access after reuse", first.AccessHash, later)
	_, err = s.RotateSession(ctx, next.RefreshHash, nextSession(later), later)
	wantErrIs(t, "rotating the current token after reuse", err, chat.ErrInvalidToken)
}

func testRotateChainReuse(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000051")
	a := newSession(u.ID, "")
	mustCreateSession(t, s, a)
	now := t0.Add(time.Minute)
	b := nextSession(now)
	_, err := s.RotateSession(ctx, a.RefreshHash, b, now)
	noErr(t, "rotate a->b", err)
	c := nextSession(now)
	got, err := s.RotateSession(ctx, b.RefreshHash, c, now)
	noErr(t, "rotate b->c", err)
	if got.Family != a.Family || got.UserID != u.ID {
		t.Errorf("c: got family %d user %d, want family %d user %d", got.Family, got.UserID, a.Family, u.ID)
	}
	_, _, err = s.SessionByAccess(ctx, c.AccessHash, now)
	noErr(t, "SessionByAccess c", err)

	stolen, err := s.RotateSession(ctx, a.RefreshHash, nextSession(now), now)
	wantErrIs(t, "reusing a", err, chat.ErrTokenReused)
	wantNoAccess(t, s, "c after a was reused", c.AccessHash, now)
	// The reuse names whose family ended, so its sockets can be closed.
	if stolen.UserID != u.ID || stolen.Family != a.Family || stolen.ID != a.ID {
		t.Errorf("reused session: got id %d user %d family %d, want id %d user %d family %d",
			stolen.ID, stolen.UserID, stolen.Family, a.ID, u.ID, a.Family)
	}
}

func testRotateInvalid(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000052")

	_, err := s.RotateSession(ctx, chat.HashToken("unknown"), nextSession(t0), t0)
	wantErrIs(t, "unknown refresh token", err, chat.ErrInvalidToken)

	expired := newSession(u.ID, "")
	mustCreateSession(t, s, expired)
	_, err = s.RotateSession(ctx, expired.RefreshHash, nextSession(expired.ExpiresAt), expired.ExpiresAt)
	wantErrIs(t, "refresh token at its expiry", err, chat.ErrInvalidToken)

	revoked := newSession(u.ID, "")
	mustCreateSession(t, s, revoked)
	noErr(t, "RevokeFamily", s.RevokeFamily(ctx, revoked.Family, t0))
	_, err = s.RotateSession(ctx, revoked.RefreshHash, nextSession(t0), t0)
	wantErrIs(t, "revoked refresh token", err, chat.ErrInvalidToken)

	// A failed rotation stores nothing.
	live := newSession(u.ID, "")
	mustCreateSession(t, s, live)
	next := nextSession(t0)
	_, err = s.RotateSession(ctx, chat.HashToken("unknown"), next, t0)
	wantErrIs(t, "unknown refresh token", err, chat.ErrInvalidToken)
	wantNoAccess(t, s, "next of a failed rotation", next.AccessHash, t0)
}

// testRotateConcurrent is a client refreshing twice at once (two tabs, a
// retry): one wins, the other looks like reuse and ends the family.
func testRotateConcurrent(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000053")
	ss := newSession(u.ID, "")
	mustCreateSession(t, s, ss)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.RotateSession(ctx, ss.RefreshHash, nextSession(t0), t0)
		})
	}
	wg.Wait()
	ok, reused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, chat.ErrTokenReused):
			reused++
		default:
			t.Errorf("concurrent RotateSession: got error %v, want nil or %v", err, chat.ErrTokenReused)
		}
	}
	if ok != 1 || reused != n-1 {
		t.Errorf("got %d successes and %d reuses, want 1 and %d", ok, reused, n-1)
	}
}

func testRevokeFamily(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000060")
	phone, laptop := newSession(u.ID, "phone"), newSession(u.ID, "laptop")
	mustCreateSession(t, s, phone)
	mustCreateSession(t, s, laptop)

	noErr(t, "RevokeFamily", s.RevokeFamily(ctx, phone.Family, t0))
	wantNoAccess(t, s, "revoked session", phone.AccessHash, t0)
	_, _, err := s.SessionByAccess(ctx, laptop.AccessHash, t0)
	noErr(t, "other family after revoke", err)

	noErr(t, "RevokeFamily again", s.RevokeFamily(ctx, phone.Family, t0.Add(time.Minute)))
	noErr(t, "RevokeFamily unknown", s.RevokeFamily(ctx, chat.NewID(), t0))
}

func testRevokeUserSessions(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000061")
	other := newUser(t, s, "+79990000062")
	phone, laptop, theirs := newSession(u.ID, "phone"), newSession(u.ID, "laptop"), newSession(other.ID, "")
	for _, ss := range []chat.Session{phone, laptop, theirs} {
		mustCreateSession(t, s, ss)
	}
	noErr(t, "RevokeUserSessions", s.RevokeUserSessions(ctx, u.ID, t0))
	wantNoAccess(t, s, "the user's phone", phone.AccessHash, t0)
	wantNoAccess(t, s, "the user's laptop", laptop.AccessHash, t0)
	_, err := s.RotateSession(ctx, laptop.RefreshHash, nextSession(t0), t0)
	wantErrIs(t, "refreshing a revoked session", err, chat.ErrInvalidToken)
	_, _, err = s.SessionByAccess(ctx, theirs.AccessHash, t0)
	noErr(t, "another user's session", err)
	noErr(t, "RevokeUserSessions again", s.RevokeUserSessions(ctx, u.ID, t0.Add(time.Minute)))
	noErr(t, "RevokeUserSessions of no one", s.RevokeUserSessions(ctx, chat.NewID(), t0))
}

// ---- contacts ----

func testSyncContacts(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	owner := newUser(t, s, "+79990000100")
	a := namedUser(t, s, "+79990000101", "Alice", "A")
	b := namedUser(t, s, "+79990000102", "Bob", "B")
	stranger := newUser(t, s, "+79990000103")
	unregistered := "+79990000199"

	got, err := s.SyncContacts(ctx, owner.ID, []string{b.Phone, unregistered, a.Phone, b.Phone, owner.Phone})
	noErr(t, "SyncContacts", err)
	if want := idsOf(a, b); !slices.Equal(sortedIDs(got), want) {
		t.Errorf("SyncContacts: got users %v, want %v (registered, deduplicated, owner excluded)", sortedIDs(got), want)
	}
	for _, u := range got {
		if u.ID == a.ID {
			checkUser(t, u, a)
		}
	}

	list, err := s.Contacts(ctx, owner.ID, "", 100)
	noErr(t, "Contacts", err)
	if want := []int64{a.ID, b.ID}; !slices.Equal(ids(list), want) {
		t.Errorf("Contacts: got %v, want %v (by name, owner excluded)", ids(list), want)
	}

	for _, tc := range []struct {
		phone string
		want  bool
	}{{a.Phone, true}, {unregistered, true}, {stranger.Phone, false}, {"+79990000198", false}} {
		got, err := s.KnowsPhone(ctx, owner.ID, tc.phone)
		noErr(t, "KnowsPhone", err)
		if got != tc.want {
			t.Errorf("KnowsPhone(%s): got %v, want %v", tc.phone, got, tc.want)
		}
	}
	knows, err := s.KnowsPhone(ctx, a.ID, owner.Phone)
	noErr(t, "KnowsPhone", err)
	if knows {
		t.Errorf("KnowsPhone is not symmetric: got true for a contact's owner, want false")
	}

	// Syncing again adds the new numbers and keeps the old ones.
	got, err = s.SyncContacts(ctx, owner.ID, []string{stranger.Phone, a.Phone})
	noErr(t, "SyncContacts again", err)
	if want := idsOf(stranger, a); !slices.Equal(sortedIDs(got), want) {
		t.Errorf("second SyncContacts: got %v, want %v", sortedIDs(got), want)
	}
	list, err = s.Contacts(ctx, owner.ID, "", 100)
	noErr(t, "Contacts", err)
	if want := idsOf(a, b, stranger); !slices.Equal(sortedIDs(list), want) {
		t.Errorf("Contacts after second sync: got %v, want %v", sortedIDs(list), want)
	}

	_, err = s.SyncContacts(ctx, chat.NewID(), []string{a.Phone})
	wantErrIs(t, "SyncContacts for an unknown owner", err, chat.ErrNotFound)
}

// testContactsRegisterLater is why contacts are kept by phone: a friend who
// joins after the sync appears without another sync.
func testContactsRegisterLater(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	owner := newUser(t, s, "+79990000200")
	later := "+79990000201"
	got, err := s.SyncContacts(ctx, owner.ID, []string{later})
	noErr(t, "SyncContacts", err)
	if len(got) != 0 {
		t.Errorf("SyncContacts before registration: got %v, want none", ids(got))
	}
	list, err := s.Contacts(ctx, owner.ID, "", 10)
	noErr(t, "Contacts", err)
	if len(list) != 0 {
		t.Errorf("Contacts before registration: got %v, want none", ids(list))
	}
	friend := newUser(t, s, later)
	list, err = s.Contacts(ctx, owner.ID, "", 10)
	noErr(t, "Contacts", err)
	if want := []int64{friend.ID}; !slices.Equal(ids(list), want) {
		t.Errorf("Contacts after registration: got %v, want %v", ids(list), want)
	}
}

// testSyncMany is the largest sync a client may send.
func testSyncMany(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	owner := newUser(t, s, "+79991000000")
	const n, registered = 5000, 60
	phones := make([]string, n)
	for i := range phones {
		phones[i] = fmt.Sprintf("+7999200%04d", i)
	}
	var want []int64
	for i := 0; i < n; i += n / registered {
		want = append(want, newUser(t, s, phones[i]).ID)
	}
	slices.Sort(want)
	for round := range 2 { // the second round finds every number known
		got, err := s.SyncContacts(ctx, owner.ID, phones)
		noErr(t, "SyncContacts", err)
		if !slices.Equal(sortedIDs(got), want) {
			t.Errorf("round %d: got %d users, want %d", round, len(got), len(want))
		}
	}
	for _, p := range []string{phones[0], phones[n/2+1], phones[n-1]} {
		knows, err := s.KnowsPhone(ctx, owner.ID, p)
		noErr(t, "KnowsPhone", err)
		if !knows {
			t.Errorf("KnowsPhone(%s): got false, want true", p)
		}
	}
	list, err := s.Contacts(ctx, owner.ID, "", 1000)
	noErr(t, "Contacts", err)
	if !slices.Equal(sortedIDs(list), want) {
		t.Errorf("Contacts: got %d users, want %d", len(list), len(want))
	}
}

func testSyncEmpty(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	owner := newUser(t, s, "+79990000300")
	for _, phones := range [][]string{nil, {}, {""}} {
		got, err := s.SyncContacts(ctx, owner.ID, phones)
		noErr(t, "SyncContacts", err)
		if len(got) != 0 {
			t.Errorf("SyncContacts(%q): got %v, want none", phones, ids(got))
		}
	}
	knows, err := s.KnowsPhone(ctx, owner.ID, "")
	noErr(t, "KnowsPhone", err)
	if knows {
		t.Errorf("KnowsPhone(\"\"): got true, want false (empty numbers are not stored)")
	}
}

func testContactsSearch(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	owner := newUser(t, s, "+79990000400")
	people := []chat.User{
		namedUser(t, s, "+79990000401", "Анна", "Петрова"),
		namedUser(t, s, "+79990000402", "анна", "Смирнова"),
		namedUser(t, s, "+79990000403", "Boris", "Ivanov"),
		namedUser(t, s, "+79990000404", "100%", "Real"),
		namedUser(t, s, "+79990000405", "a_b", ""),
		namedUser(t, s, "+79990000406", "axb", ""),
		namedUser(t, s, "+79990000407", "Ёжик", "В тумане"),
		namedUser(t, s, "+79990000408", "bang!", "x"),
	}
	// people[5], "axb", is there to catch "_" matching any character.
	anna, annaS, boris, real, under, ezhik, bang := people[0], people[1], people[2], people[3], people[4], people[6], people[7]
	phones := make([]string, len(people))
	for i, u := range people {
		phones[i] = u.Phone
	}
	_, err := s.SyncContacts(ctx, owner.ID, phones)
	noErr(t, "SyncContacts", err)

	// Expected order: by chat.SearchKey("first last"), compared bytewise.
	byName := slices.Clone(people)
	slices.SortFunc(byName, func(a, b chat.User) int {
		return strings.Compare(chat.SearchKey(a.FirstName+" "+a.LastName), chat.SearchKey(b.FirstName+" "+b.LastName))
	})

	for _, tc := range []struct {
		query string
		limit int
		want  []chat.User // in order
	}{
		{"", 100, byName},
		{"", 3, byName[:3]},
		{"   ", 100, byName},
		{"анна", 100, []chat.User{anna, annaS}},
		{"АННА", 100, []chat.User{anna, annaS}},
		{"аННа", 1, []chat.User{anna}},
		{"петр", 100, []chat.User{anna}},
		{"анна смир", 100, []chat.User{annaS}},
		{"ЁЖИК", 100, []chat.User{ezhik}},
		{"Е\u0308жик", 100, []chat.User{ezhik}}, // decomposed Ё: compared in NFC
		{"boris", 100, []chat.User{boris}},
		{"IVANOV", 100, []chat.User{boris}},
		{"%", 100, []chat.User{real}},
		{"0%", 100, []chat.User{real}},
		{"_", 100, []chat.User{under}},
		{"a_b", 100, []chat.User{under}},
		{"!", 100, []chat.User{bang}},
		{"\\", 100, nil},
		{"nobody", 100, nil},
	} {
		got, err := s.Contacts(ctx, owner.ID, tc.query, tc.limit)
		noErr(t, "Contacts", err)
		if want := ids(tc.want); !slices.Equal(ids(got), want) {
			t.Errorf("Contacts(%q, limit %d): got %v, want %v", tc.query, tc.limit, names(got), names(tc.want))
		}
	}
}

func names(users []chat.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	return out
}

func testContactsPerOwner(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	alice := newUser(t, s, "+79990000500")
	bob := newUser(t, s, "+79990000501")
	carol := namedUser(t, s, "+79990000502", "Carol", "")
	_, err := s.SyncContacts(ctx, alice.ID, []string{carol.Phone})
	noErr(t, "SyncContacts", err)
	list, err := s.Contacts(ctx, bob.ID, "", 10)
	noErr(t, "Contacts", err)
	if len(list) != 0 {
		t.Errorf("bob's Contacts: got %v, want none (alice's book is hers)", names(list))
	}
	list, err = s.Contacts(ctx, alice.ID, "carol", 10)
	noErr(t, "Contacts", err)
	if want := []int64{carol.ID}; !slices.Equal(ids(list), want) {
		t.Errorf("alice's Contacts: got %v, want %v", ids(list), want)
	}
}

// ---- content ----

func contentStore(t *testing.T, s chat.Store) chat.ContentStore {
	t.Helper()
	cs, ok := s.(chat.ContentStore)
	if !ok {
		t.Skipf("%T is not a chat.ContentStore", s)
	}
	return cs
}

func checkDocs(t *testing.T, what string, got, want []chat.ContentDoc) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d documents, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Collection != w.Collection || g.ID != w.ID || g.Position != w.Position || g.Published != w.Published {
			t.Errorf("%s[%d]: got %s/%s pos %d published %v, want %s/%s pos %d published %v", what, i,
				g.Collection, g.ID, g.Position, g.Published, w.Collection, w.ID, w.Position, w.Published)
		}
		// Compared as values: MySQL's JSON type may re-format the text.
		var gv, wv any
		if err := json.Unmarshal(g.Data, &gv); err != nil {
			t.Errorf("%s[%d]: data %q is not JSON: %v", what, i, g.Data, err)
		}
		json.Unmarshal(w.Data, &wv)
		if !reflect.DeepEqual(gv, wv) {
			t.Errorf("%s[%d]: got data %s, want %s", what, i, g.Data, w.Data)
		}
		checkTime(t, what+" UpdatedAt", g.UpdatedAt, w.UpdatedAt)
	}
}

func testContentSeed(t *testing.T, s chat.Store) {
	cs := contentStore(t, s)
	ctx := ctxT(t)
	docs := []chat.ContentDoc{
		{ID: "pro", Position: 2, Published: true, Data: json.RawMessage(`{"name":"Pro","price":990,"tags":["a","б"]}`), UpdatedAt: t0},
		{ID: "basic", Position: 0, Published: true, Data: json.RawMessage(`{"name":"Basic","price":0}`), UpdatedAt: t0},
		{ID: "draft", Position: 1, Published: false, Data: json.RawMessage(`{"name":"Черновик"}`), UpdatedAt: t0},
	}
	seeded, err := cs.SeedContent(ctx, "tariffs", docs)
	noErr(t, "SeedContent", err)
	if !seeded {
		t.Errorf("first SeedContent: got false, want true")
	}
	withColl := func(ds ...chat.ContentDoc) []chat.ContentDoc {
		for i := range ds {
			ds[i].Collection = "tariffs"
		}
		return ds
	}
	all, err := cs.Content(ctx, "tariffs", false)
	noErr(t, "Content", err)
	checkDocs(t, "all", all, withColl(docs[1], docs[2], docs[0]))
	pub, err := cs.Content(ctx, "tariffs", true)
	noErr(t, "Content published", err)
	checkDocs(t, "published", pub, withColl(docs[1], docs[0]))

	// Seeding again (every start does) never overwrites what is there.
	seeded, err = cs.SeedContent(ctx, "tariffs", []chat.ContentDoc{
		{ID: "other", Position: 0, Published: true, Data: json.RawMessage(`{}`), UpdatedAt: t0}})
	noErr(t, "SeedContent again", err)
	if seeded {
		t.Errorf("second SeedContent: got true, want false")
	}
	all, err = cs.Content(ctx, "tariffs", false)
	noErr(t, "Content", err)
	checkDocs(t, "after second seed", all, withColl(docs[1], docs[2], docs[0]))

	// Another collection is independent.
	news := []chat.ContentDoc{{ID: "n1", Position: 0, Published: true, Data: json.RawMessage(`[1,2]`), UpdatedAt: t0}}
	seeded, err = cs.SeedContent(ctx, "news", news)
	noErr(t, "SeedContent news", err)
	if !seeded {
		t.Errorf("SeedContent news: got false, want true")
	}
	got, err := cs.Content(ctx, "news", true)
	noErr(t, "Content news", err)
	news[0].Collection = "news"
	checkDocs(t, "news", got, news)
}

func testContentEmpty(t *testing.T, s chat.Store) {
	cs := contentStore(t, s)
	ctx := ctxT(t)
	got, err := cs.Content(ctx, "nothing", false)
	noErr(t, "Content of an unknown collection", err)
	if len(got) != 0 {
		t.Errorf("Content of an unknown collection: got %d documents, want 0", len(got))
	}
	seeded, err := cs.SeedContent(ctx, "nothing", nil)
	noErr(t, "SeedContent with no documents", err)
	if seeded {
		t.Errorf("SeedContent with no documents: got true, want false")
	}
}

// ---- lifecycle ----

func testPingClose(t *testing.T, s chat.Store) {
	noErr(t, "Ping", s.Ping(ctxT(t)))
	noErr(t, "Close", s.Close())
	noErr(t, "Close again", s.Close())
	if err := s.Ping(ctxT(t)); err == nil {
		t.Errorf("Ping after Close: got nil, want an error")
	}
}

func testSetRole(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000021")
	if u.Role != chat.RoleUser {
		t.Fatalf("new user: got role %q, want user", u.Role)
	}
	got, err := s.SetRole(ctx, u.Phone, chat.RoleAdmin)
	noErr(t, "set role", err)
	if got.ID != u.ID || got.Role != chat.RoleAdmin {
		t.Fatalf("got %+v, want user %d as admin", got, u.ID)
	}
	again, err := s.User(ctx, u.ID)
	noErr(t, "user", err)
	if again.Role != chat.RoleAdmin {
		t.Fatalf("stored role %q, want admin", again.Role)
	}
	_, err = s.SetRole(ctx, "+79990000022", chat.RoleAdmin)
	wantErrIs(t, "unknown phone", err, chat.ErrNotFound)
}

// testAudit: entries come back newest first, filtered by each field, paged
// by id, with their details as written.
func testAudit(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	add := func(actor int64, action, typ, id string, details string) chat.AuditEntry {
		t.Helper()
		e := chat.AuditEntry{At: t0, ActorID: actor, ActorRole: chat.RoleAdmin, Action: action, TargetType: typ, TargetID: id}
		if details != "" {
			e.Details = json.RawMessage(details)
		}
		got, err := s.AppendAudit(ctx, e)
		noErr(t, "AppendAudit", err)
		if got.ID <= 0 {
			t.Fatalf("AppendAudit: got id %d, want a positive one", got.ID)
		}
		return got
	}
	a := add(1, "user.block", "user", "42", `{"reason":"spam"}`)
	b := add(2, "dialog.view", "dialog", "7", "")
	c := add(1, "user.role", "user", "42", `{"role":"operator"}`)
	ids := func(es []chat.AuditEntry) []int64 {
		out := []int64{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tc := range []struct {
		f    chat.AuditFilter
		want []int64
	}{
		{chat.AuditFilter{}, []int64{c.ID, b.ID, a.ID}},
		{chat.AuditFilter{ActorID: 1}, []int64{c.ID, a.ID}},
		{chat.AuditFilter{Action: "dialog.view"}, []int64{b.ID}},
		{chat.AuditFilter{TargetType: "user", TargetID: "42"}, []int64{c.ID, a.ID}},
		{chat.AuditFilter{Before: c.ID}, []int64{b.ID, a.ID}},
	} {
		got, err := s.Audit(ctx, tc.f, 10)
		noErr(t, "Audit", err)
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("Audit(%+v): got %v, want %v", tc.f, ids(got), tc.want)
		}
	}
	got, err := s.Audit(ctx, chat.AuditFilter{}, 1)
	noErr(t, "Audit", err)
	if len(got) != 1 || got[0].ID != c.ID || !got[0].At.Equal(t0) || got[0].ActorRole != chat.RoleAdmin ||
		got[0].Action != "user.role" || got[0].TargetType != "user" || got[0].TargetID != "42" {
		t.Fatalf("Audit newest: got %+v, want entry %d as written", got, c.ID)
	}
	var d map[string]string
	if err := json.Unmarshal(got[0].Details, &d); err != nil || d["role"] != "operator" {
		t.Errorf("details: got %s (%v), want the role", got[0].Details, err)
	}
}
