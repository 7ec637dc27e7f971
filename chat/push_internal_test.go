package chat

import (
	"strings"
	"testing"
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
