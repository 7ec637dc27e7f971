package renderer

import "testing"

// Numbers, money and sizes follow CLDR for the screen's language.
func TestNumbersByLanguage(t *testing.T) {
	in := func(lang string) *state { return &state{lang: lang} }
	const nb = "\u00a0"
	for _, tc := range []struct {
		lang, got, want string
	}{
		{"ru", formatMoney(in("ru"), 49000, "RUB"), "49" + nb + "000" + nb + "₽"},
		{"en", formatMoney(in("en"), 49000, "RUB"), "₽49,000"},
		{"ru", formatMoney(in("ru"), 9.5, "USD"), "9,50" + nb + "$"},
		{"en", formatMoney(in("en"), 4900, "XYZ"), "XYZ4,900"},
		{"ru", formatBytes(in("ru"), 1.2*1024*1024), "1,2" + nb + "МБ"},
		{"en", formatBytes(in("en"), 1.2*1024*1024), "1.2" + nb + "MB"},
		{"ru", formatBytes(in("ru"), 512), "512" + nb + "Б"},
		{"de", formatBytes(in("de"), 2048), "2,0" + nb + "KB"},
		{"ru", formatNumber(in("ru"), 1234567.891), "1" + nb + "234" + nb + "567,89"},
		{"en", formatNumber(in("en"), 1234567), "1,234,567"},
		{"en", formatNumber(in("en"), "x"), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.lang, tc.got, tc.want)
		}
	}
}
