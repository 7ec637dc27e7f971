package chat

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanFileName(t *testing.T) {
	long := strings.Repeat("я", 150) + ".txt" // 304 bytes
	for _, tc := range []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\anna\Фото.jpg`, "Фото.jpg"},
		{"a\x00b\r\nc\u202e.exe", "abc.exe"},
		{"bad\xffutf8.txt", "badutf8.txt"},
		{"  ", "file"},
		{"..", "file"},
		{"dir/", "file"},
		{"", "file"},
	} {
		if got := CleanFileName(tc.in); got != tc.want {
			t.Errorf("CleanFileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := CleanFileName(long)
	if len(got) > MaxUploadNameLen || !utf8.ValidString(got) || !strings.HasPrefix(got, "яяя") {
		t.Errorf("CleanFileName(long) = %q (%d bytes), want at most %d bytes of valid UTF-8", got, len(got), MaxUploadNameLen)
	}
}
