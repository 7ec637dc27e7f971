package chat

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPushPreviewLanguages: an alert's body is the text, or what is
// attached, in the device's language; hidden previews say only that there
// is a message.
func TestPushPreviewLanguages(t *testing.T) {
	image := `[{"id":"1","kind":"image","mime":"image/jpeg"}]`
	video := `[{"id":"2","kind":"file","mime":"video/mp4"}]`
	file := `[{"id":"3","kind":"file","mime":"application/pdf"}]`
	long := strings.Repeat("я", maxPreview+20)
	for _, tc := range []struct {
		text, att, locale string
		hide              bool
		want              string
	}{
		{"привет", "", "ru", false, "привет"},
		{"  caption  ", image, "en", false, "caption"},
		{"", image, "ru-RU", false, "Фото"},
		{"", image, "en-GB", false, "Photo"},
		{"", video, "ru", false, "Видео"},
		{"", video, "de", false, "Video"}, // a language without strings: English
		{"", file, "ru_RU", false, "Файл"},
		{"", file, "", false, "File"},
		{"secret", "", "ru", true, "Новое сообщение"},
		{"", image, "en", true, "New message"},
		{long, "", "ru", false, strings.Repeat("я", maxPreview) + "…"},
	} {
		m := Message{Text: tc.text}
		if tc.att != "" {
			m.Attachments = []byte(tc.att)
		}
		if got := preview(m, stringsFor(tc.locale), tc.hide); got != tc.want {
			t.Errorf("preview(%.20q, %s, %s, hide %v): got %.40q, want %.40q", tc.text, tc.att, tc.locale, tc.hide, got, tc.want)
		}
	}
}

func TestCollapseIDFits(t *testing.T) {
	short := JobKey(JobMessage, 17, 42, 5)
	if CollapseID(short) != short {
		t.Errorf("a short key changed: %q", CollapseID(short))
	}
	long := JobKey(JobMessage, 1<<62, 1<<62, 1<<62)
	if got := CollapseID(long); len(got) != 64 || got != CollapseID(long) || got == CollapseID(long+"x") {
		t.Errorf("a long key: got %q, want 64 characters, stable, distinct", got)
	}
}

// lookupStore counts the reads of the push lookup; user 3 has a device.
type lookupStore struct {
	Store                      // other methods are not used
	members, messages, devices [][]int64
}

func (s *lookupStore) MembersAt(_ context.Context, keys []MemberKey) ([]Member, error) {
	var users []int64
	for _, k := range keys {
		users = append(users, k.UserID)
	}
	s.members = append(s.members, users)
	return nil, nil
}

func (s *lookupStore) MessagesAt(_ context.Context, keys []MessageKey) ([]Message, error) {
	s.messages = append(s.messages, []int64{int64(len(keys))})
	return nil, nil
}

func (s *lookupStore) Devices(_ context.Context, users []int64, _ time.Time) ([]Device, error) {
	s.devices = append(s.devices, users)
	return []Device{{ID: 1, UserID: 3}}, nil
}

type fgOf map[int64]bool

func (fgOf) SetForeground(context.Context, int64, int64, bool) error { return nil }
func (f fgOf) Foreground(_ context.Context, users []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	for _, u := range users {
		out[u] = f[u]
	}
	return out, nil
}

// TestPushLookupSkipsForegroundAndDeviceless: the jobs of a user in the
// foreground (alerts) or without a device cost no membership or message
// read; only the user with a device in the background is looked up, and
// the decisions say why the others are skipped.
func TestPushLookupSkipsForegroundAndDeviceless(t *testing.T) {
	st := &lookupStore{}
	p := newPushes(PushConfig{Foreground: fgOf{1: true}}, st, slog.New(slog.DiscardHandler), time.Now)
	now := time.Now()
	var ds []Delivery
	for _, u := range []int64{1, 2, 3} { // foreground; no device; a device
		ds = append(ds, Delivery{Job: Job{Kind: JobMessage, UserID: u, DialogID: 7, Seq: 5}})
	}
	look, err := p.lookup(context.Background(), ds, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.devices) != 1 || len(st.devices[0]) != 2 {
		t.Errorf("devices read for %v, want one read for users 2 and 3", st.devices)
	}
	if len(st.members) != 1 || len(st.members[0]) != 1 || st.members[0][0] != 3 {
		t.Errorf("memberships read for %v, want user 3 alone", st.members)
	}
	for i, want := range []string{"foreground", "no_device", "not_member"} {
		if _, skip, _ := p.decide(ds[i], look, now); skip != want {
			t.Errorf("user %d skipped as %q, want %q", ds[i].Job.UserID, skip, want)
		}
	}
}
