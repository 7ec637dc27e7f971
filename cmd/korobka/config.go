package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/korobka/korobka/chat"
)

// Config is everything korobka serve reads from its flags and environment,
// parsed and validated. The zero value of an optional field means the
// embedded default.
type Config struct {
	Addr           string
	Data           string
	MySQLDSN       string
	RedisURL       string
	RedisPrefix    string
	TestPhones     chat.TestPhones
	Screens        string
	Region         string
	SMSProvider    string
	SMSRuAPIID     string
	SMSRuURL       string
	TrustedProxies []string
	AllowedOrigins []string
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	DebugAddr      string
	LogFormat      string
	LogLevel       slog.Level
	// Dev is development mode: the designer preview (/preview/) opens to
	// anyone instead of admins only. Never on a public server.
	Dev bool

	// Push notifications: APNs is on when APNSKeyFile is set, FCM when
	// FCMCredentials is; a platform without credentials logs its pushes.
	APNSKeyFile    string
	APNSKeyID      string
	APNSTeamID     string
	APNSTopic      string
	APNSProduction bool
	APNSURL        string
	FCMCredentials string
	FCMProjectID   string
	FCMURL         string
	PushPreviews   bool
	PushDelay      time.Duration
	PushMaxDevices int
	PushWorkers    int

	// now is the clock of in-process rate limits; nil is time.Now. Only
	// tests set it, to count a burst without racing the refill.
	now func() time.Time
	// apnsTLS trusts a local fake APNs; only tests set it.
	apnsTLS *tls.Config
	// pushQueue adjusts the push queue's timings; only tests set it.
	pushQueue func(*pushQueueTimes)
}

// pushQueueTimes are the push queue's timings that tests shorten.
type pushQueueTimes struct {
	ClaimTimeout time.Duration
	Block        time.Duration
	Policy       chat.RetryPolicy
	SendTimeout  time.Duration
}

// setting is one configuration knob: a flag, the variable that sets it and
// its default. The README's configuration table mirrors this list.
type setting struct {
	flag, env, def, help string
}

var settings = []setting{
	{"addr", "KOROBKA_ADDR", ":8080", "address to listen on"},
	{"data", "KOROBKA_DATA", "./data", "folder for the SQLite database and media"},
	{"mysql-dsn", "KOROBKA_MYSQL_DSN", "", "MySQL/MariaDB DSN (user:pass@tcp(host:3306)/db); switches storage from SQLite"},
	{"redis-url", "KOROBKA_REDIS_URL", "", "Redis URL (redis://host:6379/0); switches rate limits from memory"},
	{"redis-prefix", "KOROBKA_REDIS_PREFIX", "korobka:", "prefix of every Redis key, so deployments can share one Redis"},
	{"test-phones", "KOROBKA_TEST_PHONES", "", "numbers with fixed codes and no SMS: +79990000001:111111,+7999*:111111"},
	{"screens", "KOROBKA_SCREENS", "", "folder to load screens from instead of the embedded ones"},
	{"region", "KOROBKA_REGION", chat.DefaultRegion, "region for numbers typed without a country code (ISO 3166)"},
	{"sms-provider", "KOROBKA_SMS_PROVIDER", "log", "how login codes are sent: log (print them) or smsru"},
	{"smsru-api-id", "KOROBKA_SMSRU_API_ID", "", "sms.ru api_id (with --sms-provider smsru)"},
	{"smsru-url", "KOROBKA_SMSRU_URL", "https://sms.ru", "sms.ru API base URL"},
	{"trusted-proxies", "KOROBKA_TRUSTED_PROXIES", "", "comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed"},
	{"allowed-origins", "KOROBKA_ALLOWED_ORIGINS", "", "comma-separated browser origins (https://app.example.com) allowed to open the WebSocket besides the server's own"},
	{"access-ttl", "KOROBKA_ACCESS_TTL", chat.DefaultAccessTTL.String(), "lifetime of access tokens"},
	{"refresh-ttl", "KOROBKA_REFRESH_TTL", chat.DefaultRefreshTTL.String(), "lifetime of refresh tokens"},
	{"debug-addr", "KOROBKA_DEBUG_ADDR", "", "address for /debug/pprof (keep it on loopback or an internal network); empty: off"},
	{"log-format", "KOROBKA_LOG_FORMAT", "auto", "log format: auto (text on a terminal, else JSON), json or text"},
	{"log-level", "KOROBKA_LOG_LEVEL", "info", "log level: debug, info, warn or error"},
	{"dev", "KOROBKA_DEV", "false", "development mode: the screen preview at /preview/ needs no admin session (never on a public server)"},
	{"apns-key-file", "KOROBKA_APNS_KEY_FILE", "", "APNs signing key (.p8) file; turns on APNs"},
	{"apns-key-id", "KOROBKA_APNS_KEY_ID", "", "APNs key id (10 characters, from the key's page)"},
	{"apns-team-id", "KOROBKA_APNS_TEAM_ID", "", "Apple developer team id (10 characters)"},
	{"apns-topic", "KOROBKA_APNS_TOPIC", "", "the iOS app's bundle id (com.example.app)"},
	{"apns-env", "KOROBKA_APNS_ENV", "production", "APNs environment: production (App Store, TestFlight) or development (builds from Xcode)"},
	{"apns-url", "KOROBKA_APNS_URL", "", "APNs address instead of Apple's (a proxy); empty: by KOROBKA_APNS_ENV"},
	{"fcm-credentials", "KOROBKA_FCM_CREDENTIALS", "", "Firebase service account key (JSON) file; turns on FCM"},
	{"fcm-project-id", "KOROBKA_FCM_PROJECT_ID", "", "Firebase project id; empty: the key's project_id"},
	{"fcm-url", "KOROBKA_FCM_URL", "", "FCM API root instead of Google's (a proxy)"},
	{"push-previews", "KOROBKA_PUSH_PREVIEWS", "true", "show message text in pushes; false sends \"New message\""},
	{"push-delay", "KOROBKA_PUSH_DELAY", chat.DefaultPushDelay.String(), "how long a message push waits, so a message read on another device meanwhile is not pushed"},
	{"push-max-devices", "KOROBKA_PUSH_MAX_DEVICES", strconv.Itoa(chat.DefaultMaxDevices), "push devices a user keeps; one more drops the oldest"},
	{"push-workers", "KOROBKA_PUSH_WORKERS", strconv.Itoa(chat.DefaultPushWorkers), "push queue consumers per node"},
}

// boolSettings are switches: the flag may be given alone (--dev).
var boolSettings = map[string]bool{"KOROBKA_DEV": true, "KOROBKA_PUSH_PREVIEWS": true}

// boolFlag is a string-valued flag that may be given without a value.
type boolFlag struct{ p *string }

func (b boolFlag) String() string {
	if b.p == nil {
		return ""
	}
	return *b.p
}
func (b boolFlag) Set(s string) error { *b.p = s; return nil }
func (b boolFlag) IsBoolFlag() bool   { return true }

// parseConfig reads flags over environment over defaults and validates the
// result, naming the variable of anything invalid.
func parseConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("korobka "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		if boolSettings[s.env] {
			v := def
			fs.Var(boolFlag{&v}, s.flag, s.help+" ($"+s.env+")")
			vals[s.env] = &v
			continue
		}
		vals[s.env] = fs.String(s.flag, def, s.help+" ($"+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, errUsage
		}
		return Config{}, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "korobka %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return Config{}, errUsage
	}
	get := func(env string) string { return strings.TrimSpace(*vals[env]) }

	var cfg Config
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, args...)))
	}

	cfg.Addr = get("KOROBKA_ADDR")
	if _, port, err := net.SplitHostPort(cfg.Addr); err != nil || port == "" {
		bad("KOROBKA_ADDR", "%q is not host:port (for example :8080)", cfg.Addr)
	}
	cfg.DebugAddr = get("KOROBKA_DEBUG_ADDR")
	if cfg.DebugAddr != "" {
		if _, port, err := net.SplitHostPort(cfg.DebugAddr); err != nil || port == "" {
			bad("KOROBKA_DEBUG_ADDR", "%q is not host:port (for example 127.0.0.1:6060)", cfg.DebugAddr)
		}
	}
	cfg.Data = get("KOROBKA_DATA")
	if cfg.Data == "" {
		bad("KOROBKA_DATA", "must name a folder")
	}
	cfg.MySQLDSN = get("KOROBKA_MYSQL_DSN")
	if cfg.MySQLDSN != "" {
		if _, err := mysql.ParseDSN(cfg.MySQLDSN); err != nil {
			bad("KOROBKA_MYSQL_DSN", "%v", err)
		}
	}
	cfg.RedisURL = get("KOROBKA_REDIS_URL")
	if cfg.RedisURL != "" {
		u, err := url.Parse(cfg.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			bad("KOROBKA_REDIS_URL", "want redis://host:port/db, rediss:// or unix://")
		}
	}
	cfg.RedisPrefix = get("KOROBKA_REDIS_PREFIX")
	cfg.Region = strings.ToUpper(get("KOROBKA_REGION"))
	if !chat.ValidRegion(cfg.Region) {
		bad("KOROBKA_REGION", "%q is not a region this server knows numbers of (for example RU)", cfg.Region)
	}
	tp, err := chat.ParseTestPhones(get("KOROBKA_TEST_PHONES"), cfg.Region)
	if err != nil {
		bad("KOROBKA_TEST_PHONES", "%v", err)
	}
	cfg.TestPhones = tp
	cfg.Screens = get("KOROBKA_SCREENS")

	cfg.SMSProvider = get("KOROBKA_SMS_PROVIDER")
	cfg.SMSRuAPIID = get("KOROBKA_SMSRU_API_ID")
	cfg.SMSRuURL = get("KOROBKA_SMSRU_URL")
	switch cfg.SMSProvider {
	case "log":
	case "smsru":
		if cfg.SMSRuAPIID == "" {
			bad("KOROBKA_SMSRU_API_ID", "required when KOROBKA_SMS_PROVIDER is smsru")
		}
		if u, err := url.Parse(cfg.SMSRuURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("KOROBKA_SMSRU_URL", "%q is not an http(s) URL", cfg.SMSRuURL)
		}
	default:
		bad("KOROBKA_SMS_PROVIDER", "%q is not one of log, smsru", cfg.SMSProvider)
	}

	if p := get("KOROBKA_TRUSTED_PROXIES"); p != "" {
		for _, s := range strings.Split(p, ",") {
			s = strings.TrimSpace(s)
			if _, err := netip.ParsePrefix(s); err != nil {
				if _, err := netip.ParseAddr(s); err != nil {
					bad("KOROBKA_TRUSTED_PROXIES", "%q is not an address or CIDR", s)
					continue
				}
			}
			cfg.TrustedProxies = append(cfg.TrustedProxies, s)
		}
	}
	if o := get("KOROBKA_ALLOWED_ORIGINS"); o != "" {
		for _, s := range strings.Split(o, ",") {
			s = strings.TrimSpace(s)
			if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
				bad("KOROBKA_ALLOWED_ORIGINS", "%q is not an origin like https://app.example.com", s)
				continue
			}
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, s)
		}
	}
	cfg.AccessTTL = parseDuration(get("KOROBKA_ACCESS_TTL"), "KOROBKA_ACCESS_TTL", time.Minute, 24*time.Hour, bad)
	cfg.RefreshTTL = parseDuration(get("KOROBKA_REFRESH_TTL"), "KOROBKA_REFRESH_TTL", time.Hour, 400*24*time.Hour, bad)
	if cfg.RefreshTTL > 0 && cfg.AccessTTL > cfg.RefreshTTL {
		bad("KOROBKA_ACCESS_TTL", "longer than KOROBKA_REFRESH_TTL")
	}

	cfg.LogFormat = get("KOROBKA_LOG_FORMAT")
	switch cfg.LogFormat {
	case "auto", "json", "text":
	default:
		bad("KOROBKA_LOG_FORMAT", "%q is not one of auto, json, text", cfg.LogFormat)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(get("KOROBKA_LOG_LEVEL"))); err != nil {
		bad("KOROBKA_LOG_LEVEL", "%q is not one of debug, info, warn, error", get("KOROBKA_LOG_LEVEL"))
	}
	if dev, err := strconv.ParseBool(get("KOROBKA_DEV")); err != nil {
		bad("KOROBKA_DEV", "%q is not true or false (1 or 0)", get("KOROBKA_DEV"))
	} else {
		cfg.Dev = dev
	}
	parsePush(&cfg, get, bad)
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid configuration:\n  %w", errors.Join(errs...))
	}
	return cfg, nil
}

func parseDuration(s, env string, min, max time.Duration, bad func(string, string, ...any)) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil || d < min || d > max {
		bad(env, "%q is not a duration between %s and %s (for example 15m)", s, min, max)
		return 0
	}
	return d
}

// parsePush reads the push settings. A platform's settings are checked
// together: a key without its ids is an error at start, not at the first
// push.
func parsePush(cfg *Config, get func(string) string, bad func(string, string, ...any)) {
	cfg.APNSKeyFile = get("KOROBKA_APNS_KEY_FILE")
	cfg.APNSKeyID = get("KOROBKA_APNS_KEY_ID")
	cfg.APNSTeamID = get("KOROBKA_APNS_TEAM_ID")
	cfg.APNSTopic = get("KOROBKA_APNS_TOPIC")
	cfg.APNSURL = get("KOROBKA_APNS_URL")
	if cfg.APNSKeyFile != "" {
		if len(cfg.APNSKeyID) != 10 {
			bad("KOROBKA_APNS_KEY_ID", "the 10-character key id is required with KOROBKA_APNS_KEY_FILE")
		}
		if len(cfg.APNSTeamID) != 10 {
			bad("KOROBKA_APNS_TEAM_ID", "the 10-character team id is required with KOROBKA_APNS_KEY_FILE")
		}
		if cfg.APNSTopic == "" {
			bad("KOROBKA_APNS_TOPIC", "the app's bundle id is required with KOROBKA_APNS_KEY_FILE")
		}
	}
	switch env := get("KOROBKA_APNS_ENV"); env {
	case "production":
		cfg.APNSProduction = true
	case "development":
	default:
		bad("KOROBKA_APNS_ENV", "%q is not production or development", env)
	}
	for env, v := range map[string]string{"KOROBKA_APNS_URL": cfg.APNSURL, "KOROBKA_FCM_URL": get("KOROBKA_FCM_URL")} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad(env, "%q is not an http(s) URL", v)
		}
	}
	cfg.FCMCredentials = get("KOROBKA_FCM_CREDENTIALS")
	cfg.FCMProjectID = get("KOROBKA_FCM_PROJECT_ID")
	cfg.FCMURL = get("KOROBKA_FCM_URL")
	if v, err := strconv.ParseBool(get("KOROBKA_PUSH_PREVIEWS")); err != nil {
		bad("KOROBKA_PUSH_PREVIEWS", "%q is not true or false", get("KOROBKA_PUSH_PREVIEWS"))
	} else {
		cfg.PushPreviews = v
	}
	cfg.PushDelay = parseDuration(get("KOROBKA_PUSH_DELAY"), "KOROBKA_PUSH_DELAY", 0, time.Minute, bad)
	if cfg.PushDelay == 0 {
		cfg.PushDelay = -1 // chat reads 0 as the default; the operator asked for none
	}
	cfg.PushMaxDevices = parseInt(get("KOROBKA_PUSH_MAX_DEVICES"), "KOROBKA_PUSH_MAX_DEVICES", 1, 100, bad)
	cfg.PushWorkers = parseInt(get("KOROBKA_PUSH_WORKERS"), "KOROBKA_PUSH_WORKERS", 1, 64, bad)
}

func parseInt(s, env string, min, max int, bad func(string, string, ...any)) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		bad(env, "%q is not a number from %d to %d", s, min, max)
		return 0
	}
	return n
}
