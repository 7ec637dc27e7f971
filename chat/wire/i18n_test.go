package wire

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/korobka/korobka/chat"
)

// Where error codes are written in the module's sources: chat.Error
// literals, chat.Errorf calls, the renderer's Code* constants, and the
// invalid_<param> codes of the REST query parameters.
var codeREs = []*regexp.Regexp{
	regexp.MustCompile(`Code:\s*"([a-z_]+)"`),
	regexp.MustCompile(`Errorf\(\s*(?:chat\.)?Kind\w+,\s*"([a-z_]+)"`),
	regexp.MustCompile(`\bCode[A-Z]\w*\s*=\s*"([a-z_]+)"`),
}

var queryIntRE = regexp.MustCompile(`queryInt\(c, "([a-z_]+)"`)

// Every error code the server can answer has its message in every
// language besides English, so a Russian user never reads an English
// error: a new code without a translation fails here.
func TestEveryErrorCodeTranslated(t *testing.T) {
	root := filepath.Join("..", "..")
	codes := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, re := range codeREs {
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				if !strings.HasSuffix(m[1], "_") { // "invalid_"+name: below
					codes[m[1]] = path
				}
			}
		}
		if strings.Contains(string(src), `"invalid_"+name`) {
			for _, m := range queryIntRE.FindAllStringSubmatch(string(src), -1) {
				codes["invalid_"+m[1]] = path
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) < 50 {
		t.Fatalf("found %d error codes in the sources, expected many more: is the scan broken?", len(codes))
	}
	for lang, msgs := range errorMessages {
		for code, file := range codes {
			if msgs[code] == "" {
				t.Errorf("error code %q (%s) has no %s message in chat/wire/i18n.go", code, file, lang)
			}
		}
	}
}

func TestErrorLang(t *testing.T) {
	for header, want := range map[string]string{
		"":                        "en",
		"ru":                      "ru",
		"ru-RU, en;q=0.8":         "ru",
		"en-US,en;q=0.9,ru;q=0.8": "en",
		"de-DE":                   "en",
		"fr, ru;q=0.5":            "ru",
		"garbage;;;q=x":           "en",
	} {
		if got := ErrorLang(header); got != want {
			t.Errorf("ErrorLang(%q) = %q, want %q", header, got, want)
		}
	}
}

// The same error answers in the caller's language with the same code and
// status; internal errors stay hidden in every language.
func TestWriteErrorFor(t *testing.T) {
	for _, tc := range []struct {
		lang, header, want string
	}{
		{"en", "en-GB", chat.ErrInvalidCode.Message},
		{"ru", "ru-RU,ru;q=0.9", errorMessages["ru"]["invalid_code"]},
	} {
		r := httptest.NewRequest("POST", "/v1/auth/verify", nil)
		r.Header.Set("Accept-Language", tc.header)
		w := httptest.NewRecorder()
		if st := WriteErrorFor(w, r, chat.ErrInvalidCode); st != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tc.lang, st)
		}
		var body ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body.Error.Code != "invalid_code" || body.Error.Message != tc.want {
			t.Errorf("%s: %+v, want invalid_code with %q", tc.lang, body.Error, tc.want)
		}
		if got := w.Header().Get("Content-Language"); got != tc.lang {
			t.Errorf("%s: Content-Language %q", tc.lang, got)
		}
	}
	var f struct {
		Error ErrorDetail `json:"error"`
	}
	if err := json.Unmarshal(ErrorFrameIn(nil, chat.Errorf(chat.KindInternal, "db_down", "secret"), "ru"), &f); err != nil {
		t.Fatal(err)
	}
	if f.Error.Code != "internal" || f.Error.Message != errorMessages["ru"]["internal"] {
		t.Errorf("internal error frame in ru: %+v", f.Error)
	}
}
