package renderer

import (
	"strconv"
	"strings"
	"time"
)

// Dates as people say them, in the screen's language and the request's
// time zone. The words and patterns are CLDR's (ru and en, the languages
// the screens ship; any other language gets English): golang.org/x/text
// carries CLDR's number data but no calendar data, so the few names the
// functions need are tabled here from CLDR's gregorian calendar (months in
// the format context, so Russian says "12 ноября"; abbreviated weekdays;
// the relative day fields, capitalised as a label begins).

type calendarWords struct {
	today, yesterday string
	months           [12]string // format context, wide: "ноября", "November"
	weekdays         [7]string  // format context, abbreviated, Sunday first
	dayMonth         func(d int, month string) string
	dayMonthYear     func(d int, month string, y int) string
	short            string // Go layout of the short numeric date
}

var calendars = map[string]*calendarWords{
	"ru": {
		today: "Сегодня", yesterday: "Вчера",
		months: [12]string{"января", "февраля", "марта", "апреля", "мая", "июня",
			"июля", "августа", "сентября", "октября", "ноября", "декабря"},
		weekdays: [7]string{"вс", "пн", "вт", "ср", "чт", "пт", "сб"},
		dayMonth: func(d int, m string) string { return strconv.Itoa(d) + "\u00a0" + m },
		dayMonthYear: func(d int, m string, y int) string {
			return strconv.Itoa(d) + "\u00a0" + m + " " + strconv.Itoa(y) + "\u00a0г."
		},
		short: "02.01.06",
	},
	"en": {
		today: "Today", yesterday: "Yesterday",
		months: [12]string{"January", "February", "March", "April", "May", "June",
			"July", "August", "September", "October", "November", "December"},
		weekdays:     [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
		dayMonth:     func(d int, m string) string { return strconv.Itoa(d) + "\u00a0" + m },
		dayMonthYear: func(d int, m string, y int) string { return strconv.Itoa(d) + "\u00a0" + m + " " + strconv.Itoa(y) },
		short:        "1/2/06",
	},
}

// calendarOf is the calendar words of the render's language.
func calendarOf(st *state) *calendarWords {
	base, _, _ := strings.Cut(strings.ToLower(st.lang), "-")
	if c, ok := calendars[base]; ok {
		return c
	}
	return calendars["en"]
}

// daysAgo is how many calendar days before now t falls in loc (0 today,
// 1 yesterday, negative in the future).
func daysAgo(now, t time.Time, loc *time.Location) int {
	y, m, d := now.In(loc).Date()
	ty, tm, td := t.In(loc).Date()
	a := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	b := time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)
	return int(a.Sub(b).Hours() / 24)
}

// dayLabel is day_label(t): the calendar day of an RFC 3339 time as a chat
// names it above that day's messages: "Сегодня"/"Today",
// "Вчера"/"Yesterday", "12 ноября"/"12 November", and with the year when
// it is not this year ("12 ноября 2024 г.", "12 November 2024"). Each day
// has one label, so a shell draws a separator where the label changes.
// "" for no time.
func dayLabel(st *state, s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return ""
	}
	loc := st.zone()
	c := calendarOf(st)
	switch daysAgo(st.now, t, loc) {
	case 0:
		return c.today
	case 1:
		return c.yesterday
	}
	lt := t.In(loc)
	if lt.Year() == st.now.In(loc).Year() {
		return c.dayMonth(lt.Day(), c.months[lt.Month()-1])
	}
	return c.dayMonthYear(lt.Day(), c.months[lt.Month()-1], lt.Year())
}

// dayLabelMemo is dayLabel for a render: consecutive times of one local
// day (a chat's messages) share one label, boxed once.
func dayLabelMemo(st *state, s string) any {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return ""
	}
	y, m, d := t.In(st.zone()).Date()
	key := y<<9 | int(m)<<5 | d
	if st.dayVal == nil || st.dayKey != key {
		st.dayKey, st.dayVal = key, dayLabel(st, s)
	}
	return st.dayVal
}

// listTime is list_time(t): when a chat list row last changed, as short as
// it can be said: "21:47" today, the weekday ("пн", "Mon") within the
// six days before, else the short date ("12.11.25", "11/12/25"). "" for
// no time.
func listTime(st *state, s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return ""
	}
	loc := st.zone()
	c := calendarOf(st)
	lt := t.In(loc)
	switch n := daysAgo(st.now, t, loc); {
	case n <= 0:
		if n == 0 {
			return lt.Format("15:04")
		}
		return lt.Format(c.short)
	case n < 7:
		return c.weekdays[lt.Weekday()]
	}
	return lt.Format(c.short)
}
