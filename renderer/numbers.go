package renderer

import (
	"math"
	"strings"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	xmessage "golang.org/x/text/message"
	"golang.org/x/text/number"
)

// Numbers, amounts of money and file sizes are written as the screen's
// language writes them, from CLDR data (golang.org/x/text): "49 000 ₽" and
// "1,2 МБ" in Russian, "₽49,000" and "1.2 MB" in English.

// printer returns the CLDR printer of the render's language.
func printer(st *state) *xmessage.Printer {
	tag, err := language.Parse(st.lang)
	if err != nil {
		tag = language.English
	}
	return xmessage.NewPrinter(tag)
}

// formatNumber is number(x): digits grouped, at most two decimals.
func formatNumber(st *state, x any) string {
	f, ok := toFloat(x)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return ""
	}
	return printer(st).Sprint(number.Decimal(f, number.MaxFractionDigits(2)))
}

// formatMoney is money(amount, code): the amount grouped (whole amounts
// without decimals, others with two) and the currency's narrow symbol
// after it, or before it in English ("49 000 ₽", "₽49,000"). An unknown
// ISO 4217 code is written as the code.
func formatMoney(st *state, amount, code any) string {
	f, ok := toFloat(amount)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return ""
	}
	p := printer(st)
	opts := []number.Option{number.MaxFractionDigits(0)}
	if f != math.Trunc(f) {
		opts = []number.Option{number.MinFractionDigits(2), number.MaxFractionDigits(2)}
	}
	digits := p.Sprint(number.Decimal(f, opts...))
	c := strings.ToUpper(toText(code))
	sym := c
	if u, err := currency.ParseISO(c); err == nil {
		// x/text formats "₽ 0,00": the symbol is what precedes the digits.
		s := p.Sprint(currency.NarrowSymbol(u.Amount(0)))
		if i := strings.IndexAny(s, "0123456789"); i > 0 {
			sym = strings.TrimSpace(strings.TrimRight(s[:i], "\u00a0 "))
		}
	}
	if sym == "" {
		return digits
	}
	if strings.HasPrefix(st.lang, "en") {
		return sym + digits
	}
	return digits + "\u00a0" + sym
}

// byteUnits are the file size units per language; English for others.
var byteUnits = map[string][]string{
	"en": {"B", "KB", "MB", "GB", "TB"},
	"ru": {"Б", "КБ", "МБ", "ГБ", "ТБ"},
}

// formatBytes is bytes(n): a size in bytes in binary units, one decimal
// above a kilobyte ("1,2 МБ", "1.2 MB").
func formatBytes(st *state, x any) string {
	f, _ := toFloat(x)
	base, _, _ := strings.Cut(st.lang, "-")
	units, ok := byteUnits[base]
	if !ok {
		units = byteUnits["en"]
	}
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	p := printer(st)
	if i == 0 {
		return p.Sprint(number.Decimal(math.Round(f), number.MaxFractionDigits(0))) + "\u00a0" + units[0]
	}
	return p.Sprint(number.Decimal(f, number.MinFractionDigits(1), number.MaxFractionDigits(1))) + "\u00a0" + units[i]
}
