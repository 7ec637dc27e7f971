package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/outbound"
	"github.com/korobka/korobka/chat/wire"
	"github.com/korobka/korobka/chat/ws"
	"github.com/korobka/korobka/renderer"
)

// Config is everything korobka serve reads from its flags and environment,
// parsed and validated. The zero value of an optional field means the
// embedded default.
type Config struct {
	Addr        string
	Data        string
	MySQLDSN    string
	RedisURL    string
	RedisPrefix string
	TestPhones  chat.TestPhones
	Screens     string
	// Brand selects themes/<Brand>/theme.yaml of the screens instead of
	// theme.yaml (KOROBKA_BRAND; "" for theme.yaml).
	Brand  string
	Region string
	// TimeZone is what screens show times in when a shell sends no
	// X-Korobka-TZ (KOROBKA_TIME_ZONE, default UTC).
	TimeZone       *time.Location
	SMSProvider    string
	SMSRuAPIID     string
	SMSRuURL       string
	TrustedProxies wire.Proxies
	AllowedOrigins []string
	// MaxSocketsPerUser caps a user's live WebSockets across nodes.
	MaxSocketsPerUser int
	// Groups are the group limits: members per group, groups per user.
	Groups chat.GroupConfig
	// WSRate and WSBurst are a user's WebSocket frame budget across all
	// their connections and nodes: frames per second, and at once.
	WSRate, WSBurst int
	// HandshakesPerAddr is how many WebSocket handshakes one client
	// address (IPv6: its /64) may make per minute, a third of them at once.
	HandshakesPerAddr int
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	// MediaSecret signs attachment URLs; empty: generated once and kept
	// in Data (mediaSecretFile).
	MediaSecret string
	// MaxVideoBytes caps a video upload (KOROBKA_MAX_VIDEO_BYTES).
	MaxVideoBytes int64
	// SyncCacheBytes bounds the node's recent-changes cache that serves
	// short syncs (KOROBKA_SYNC_CACHE_BYTES); 0 turns it off.
	SyncCacheBytes int
	// PresenceGrace is how long a user whose last connection on a node
	// closed still counts as online there (KOROBKA_PRESENCE_GRACE); 0: none.
	PresenceGrace time.Duration
	// FFmpeg is the ffmpeg to probe videos and take their posters with
	// (ffprobe beside it), as configured: a name looked up on PATH or a
	// path; "off" or one that is not there gives generic posters.
	FFmpeg    string
	DebugAddr string
	// CommitLanes is KOROBKA_COMMIT_LANES: MySQL commit parallelism, 0 for
	// the store's default.
	CommitLanes int
	MetricsAddr string
	LogFormat   string
	LogLevel    slog.Level
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

	// SMSCountries are the ISO 3166 regions whose mobile numbers get login
	// codes; KOROBKA_REGION's alone unless set.
	SMSCountries []string
	// LoopbackUnlimited exempts loopback clients from the per-address
	// login limits, for korobka bench on the server's host.
	LoopbackUnlimited bool
	// OutboundAllow lets fetches of user-supplied URLs (link previews)
	// reach these non-public addresses (KOROBKA_OUTBOUND_ALLOW): tests'
	// fixture sites, or one internal host. Dangerous: it warns at start.
	OutboundAllow outbound.Allow
	// LinkPreviews turns link previews on (KOROBKA_LINK_PREVIEWS).
	LinkPreviews bool
	// BusinessName is the name of the business account clients write to
	// (operators answer as it, the bot API sends as it).
	BusinessName string

	// now is the clock of in-process rate limits, of the service (token
	// lifetimes, media URL buckets), of the media handler and of the
	// gateway (token expiry); nil is time.Now. Only tests set it, to count
	// a burst without racing the refill, to let a token expire or to cross
	// a media URL bucket without waiting.
	now func() time.Time
	// expiryCheck is how often the gateway closes connections whose
	// token expired (zero: ws.DefaultExpiryCheck); only tests set it.
	expiryCheck time.Duration
	// Body deadlines (zero: httpapi's defaults); only tests set them, to
	// see a slow client cut off in milliseconds.
	bodyTimeout   time.Duration
	uploadMinRate int64
	uploadGrace   time.Duration
	// apnsTLS trusts a local fake APNs; only tests set it.
	apnsTLS *tls.Config
	// pushQueue adjusts the push queue's timings; only tests set it.
	pushQueue func(*pushQueueTimes)
	// outboundResolver resolves the names of links previews fetch (nil:
	// the system's); only tests set it, to make a name resolve to
	// loopback.
	outboundResolver outbound.Resolver
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
	{"commit-lanes", "KOROBKA_COMMIT_LANES", "0", "with MySQL: transactions that commit messages at once on this node (1-64); 0: the measured default"},
	{"redis-url", "KOROBKA_REDIS_URL", "", "Redis URL (redis://host:6379/0); switches rate limits from memory"},
	{"redis-prefix", "KOROBKA_REDIS_PREFIX", "korobka:", "prefix of every Redis key, so deployments can share one Redis"},
	{"test-phones", "KOROBKA_TEST_PHONES", "", "numbers with fixed codes and no SMS: +79990000001:111111,+7999*:111111"},
	{"screens", "KOROBKA_SCREENS", "", "folder to load screens from instead of the embedded ones"},
	{"brand", "KOROBKA_BRAND", "", "theme of the screens: themes/<brand>/theme.yaml instead of theme.yaml (e.g. meridian)"},
	{"region", "KOROBKA_REGION", chat.DefaultRegion, "region for numbers typed without a country code (ISO 3166)"},
	{"time-zone", "KOROBKA_TIME_ZONE", "UTC", "IANA time zone screens show times in when a shell sends no X-Korobka-TZ"},
	{"sms-countries", "KOROBKA_SMS_COUNTRIES", "", "comma-separated regions (ISO 3166) whose mobile numbers get login codes; empty: KOROBKA_REGION's"},
	{"loopback-unlimited", "KOROBKA_LOOPBACK_UNLIMITED", "auto", "load tests only: clients on loopback skip the per-address limits (korobka bench); auto: on exactly when KOROBKA_TEST_PHONES has a prefix; never with a proxy on this host"},
	{"sms-provider", "KOROBKA_SMS_PROVIDER", "log", "how login codes are sent: log (print them) or smsru"},
	{"smsru-api-id", "KOROBKA_SMSRU_API_ID", "", "sms.ru api_id (with --sms-provider smsru)"},
	{"smsru-url", "KOROBKA_SMSRU_URL", "https://sms.ru", "sms.ru API base URL"},
	{"trusted-proxies", "KOROBKA_TRUSTED_PROXIES", "", "comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed"},
	{"allowed-origins", "KOROBKA_ALLOWED_ORIGINS", "", "comma-separated browser origins (https://app.example.com) allowed to open the WebSocket besides the server's own"},
	{"max-sockets-per-user", "KOROBKA_MAX_SOCKETS_PER_USER", strconv.Itoa(ws.DefaultMaxSocketsPerUser), "live WebSockets one user may hold across all nodes; a new one past it closes their oldest (4002)"},
	{"group-max-members", "KOROBKA_GROUP_MAX_MEMBERS", strconv.Itoa(chat.DefaultGroupMaxMembers), "members one group may have"},
	{"group-max-per-user", "KOROBKA_GROUP_MAX_PER_USER", strconv.Itoa(chat.DefaultGroupMaxPerUser), "groups one user may be a member of"},
	{"ws-rate", "KOROBKA_WS_RATE", strconv.Itoa(ws.DefaultRate), "WebSocket frames per second one user may send, across all their connections and nodes"},
	{"ws-burst", "KOROBKA_WS_BURST", strconv.Itoa(ws.DefaultBurst), "WebSocket frames one user may send at once above the rate"},
	{"ws-handshakes-per-addr", "KOROBKA_WS_HANDSHAKES_PER_ADDR", strconv.Itoa(ws.DefaultHandshakesPerAddr.Rate), "WebSocket handshakes per minute from one client address (IPv6: per /64), a third of them at once"},
	{"access-ttl", "KOROBKA_ACCESS_TTL", chat.DefaultAccessTTL.String(), "lifetime of access tokens"},
	{"refresh-ttl", "KOROBKA_REFRESH_TTL", chat.DefaultRefreshTTL.String(), "lifetime of refresh tokens"},
	{"media-secret", "KOROBKA_MEDIA_SECRET", "", "secret (at least 32 characters) that signs attachment URLs; every node must share it; empty: generated once and kept in KOROBKA_DATA/" + mediaSecretFile},
	{"max-video-bytes", "KOROBKA_MAX_VIDEO_BYTES", strconv.Itoa(chat.DefaultMaxVideoSize), "largest video upload in bytes (1 MiB to 4 GiB); images and other files stay capped at 25 MiB"},
	{"sync-cache-bytes", "KOROBKA_SYNC_CACHE_BYTES", strconv.Itoa(chat.DefaultSyncCacheBytes), "bytes of recent messages kept per node to serve short syncs from memory (0: off; at most 1 GiB)"},
	{"presence-grace", "KOROBKA_PRESENCE_GRACE", chat.DefaultPresenceGrace.String(), "how long a user whose last connection on a node closed still counts as online, so a quick reconnect announces nothing (0s: offline at once; at most 1m)"},
	{"ffmpeg", "KOROBKA_FFMPEG", "ffmpeg", "ffmpeg for video duration, dimensions and posters (ffprobe beside it; Debian package ffmpeg); off, or not found: generic posters"},
	{"debug-addr", "KOROBKA_DEBUG_ADDR", "", "address for /debug/pprof (keep it on loopback or an internal network); empty: off"},
	{"metrics-addr", "KOROBKA_METRICS_ADDR", "", "address for /metrics on its own listener (an internal network); empty: /metrics on the public address"},
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
	{"link-previews", "KOROBKA_LINK_PREVIEWS", "on", "link previews: the first link of a message gets a card fetched from its page (on or off)"},
	{"outbound-allow", "KOROBKA_OUTBOUND_ALLOW", "", "DANGEROUS, tests only: comma-separated CIDRs, addresses or address:port that fetches of user-supplied URLs may reach although they are loopback or private (127.0.0.1:8081)"},
	{"business-name", "KOROBKA_BUSINESS_NAME", chat.DefaultBusinessName, "name of the business account clients write to, that operators answer as (\"Acme support\")"},
}

// boolSettings are switches: the flag may be given alone (--dev).
var boolSettings = map[string]bool{"KOROBKA_DEV": true, "KOROBKA_LOOPBACK_UNLIMITED": true, "KOROBKA_PUSH_PREVIEWS": true}

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
	if n, err := strconv.Atoi(get("KOROBKA_COMMIT_LANES")); err != nil || n < 0 || n > 64 {
		bad("KOROBKA_COMMIT_LANES", "%q is not a number of lanes from 0 (the default) to 64", get("KOROBKA_COMMIT_LANES"))
	} else {
		cfg.CommitLanes = n
	}
	cfg.DebugAddr = get("KOROBKA_DEBUG_ADDR")
	if cfg.DebugAddr != "" {
		if _, port, err := net.SplitHostPort(cfg.DebugAddr); err != nil || port == "" {
			bad("KOROBKA_DEBUG_ADDR", "%q is not host:port (for example 127.0.0.1:6060)", cfg.DebugAddr)
		}
	}
	cfg.MetricsAddr = get("KOROBKA_METRICS_ADDR")
	if cfg.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(cfg.MetricsAddr); err != nil || port == "" {
			bad("KOROBKA_METRICS_ADDR", "%q is not host:port (for example 10.0.0.5:9090)", cfg.MetricsAddr)
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
	tz, err := chat.ParseTimeZone(get("KOROBKA_TIME_ZONE"))
	if err != nil {
		bad("KOROBKA_TIME_ZONE", "%q is not an IANA time zone (for example Europe/Moscow or UTC)", get("KOROBKA_TIME_ZONE"))
	}
	cfg.TimeZone = tz
	if c := get("KOROBKA_SMS_COUNTRIES"); c != "" {
		for _, r := range strings.Split(c, ",") {
			r = strings.ToUpper(strings.TrimSpace(r))
			if !chat.ValidRegion(r) {
				bad("KOROBKA_SMS_COUNTRIES", "%q is not a region this server knows numbers of (for example RU)", r)
				continue
			}
			cfg.SMSCountries = append(cfg.SMSCountries, r)
		}
	} else {
		cfg.SMSCountries = []string{cfg.Region}
	}
	tp, err := chat.ParseTestPhones(get("KOROBKA_TEST_PHONES"), cfg.Region)
	if err != nil {
		bad("KOROBKA_TEST_PHONES", "%v", err)
	}
	cfg.TestPhones = tp
	cfg.Screens = get("KOROBKA_SCREENS")
	if cfg.Screens != "" {
		if err := checkScreensDir(cfg.Screens); err != nil {
			bad("KOROBKA_SCREENS", "%v", err)
		}
	}
	if cfg.Brand = get("KOROBKA_BRAND"); cfg.Brand != "" {
		if _, err := renderer.BrandFS(screenFiles(cfg), cfg.Brand); err != nil {
			bad("KOROBKA_BRAND", "%v", err)
		}
	}

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
		proxies, err := wire.ParseProxies(strings.Split(p, ","))
		if err != nil {
			bad("KOROBKA_TRUSTED_PROXIES", "%v", err)
		}
		cfg.TrustedProxies = proxies
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
	cfg.MaxSocketsPerUser = parseInt(get("KOROBKA_MAX_SOCKETS_PER_USER"), "KOROBKA_MAX_SOCKETS_PER_USER", 1, 1000, bad)
	cfg.Groups.MaxMembers = parseInt(get("KOROBKA_GROUP_MAX_MEMBERS"), "KOROBKA_GROUP_MAX_MEMBERS", 2, 100_000, bad)
	cfg.Groups.MaxPerUser = parseInt(get("KOROBKA_GROUP_MAX_PER_USER"), "KOROBKA_GROUP_MAX_PER_USER", 1, 100_000, bad)
	cfg.WSRate = parseInt(get("KOROBKA_WS_RATE"), "KOROBKA_WS_RATE", 1, 1_000_000, bad)
	cfg.WSBurst = parseInt(get("KOROBKA_WS_BURST"), "KOROBKA_WS_BURST", 1, 1_000_000, bad)
	cfg.HandshakesPerAddr = parseInt(get("KOROBKA_WS_HANDSHAKES_PER_ADDR"), "KOROBKA_WS_HANDSHAKES_PER_ADDR", 3, 10_000_000, bad)
	cfg.AccessTTL = parseDuration(get("KOROBKA_ACCESS_TTL"), "KOROBKA_ACCESS_TTL", time.Minute, 24*time.Hour, bad)
	cfg.RefreshTTL = parseDuration(get("KOROBKA_REFRESH_TTL"), "KOROBKA_REFRESH_TTL", time.Hour, 400*24*time.Hour, bad)
	cfg.PresenceGrace = parseDuration(get("KOROBKA_PRESENCE_GRACE"), "KOROBKA_PRESENCE_GRACE", 0, time.Minute, bad)
	if cfg.RefreshTTL > 0 && cfg.AccessTTL > cfg.RefreshTTL {
		bad("KOROBKA_ACCESS_TTL", "longer than KOROBKA_REFRESH_TTL")
	}

	cfg.MediaSecret = get("KOROBKA_MEDIA_SECRET")
	if cfg.MediaSecret != "" && len(cfg.MediaSecret) < chat.MinMediaSecretLen {
		bad("KOROBKA_MEDIA_SECRET", "%d characters, want at least %d (for example: openssl rand -hex 32)", len(cfg.MediaSecret), chat.MinMediaSecretLen)
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
	// auto couples the exemption to the other load-test setting: a
	// test-number prefix, which no production server has (both warn at
	// start), is what a load generator on loopback logs in with.
	if v := get("KOROBKA_LOOPBACK_UNLIMITED"); v == "auto" {
		cfg.LoopbackUnlimited = len(cfg.TestPhones.Prefixes()) > 0
	} else if on, err := strconv.ParseBool(v); err != nil {
		bad("KOROBKA_LOOPBACK_UNLIMITED", "%q is not auto, true or false (1 or 0)", v)
	} else {
		cfg.LoopbackUnlimited = on
	}
	parsePush(&cfg, get, bad)
	switch v := get("KOROBKA_LINK_PREVIEWS"); v {
	case "on":
		cfg.LinkPreviews = true
	case "off":
	default:
		bad("KOROBKA_LINK_PREVIEWS", "%q is not on or off", v)
	}
	if a, err := outbound.ParseAllow(get("KOROBKA_OUTBOUND_ALLOW")); err != nil {
		bad("KOROBKA_OUTBOUND_ALLOW", "%v", err)
	} else {
		cfg.OutboundAllow = a
	}
	if n, err := strconv.ParseInt(get("KOROBKA_MAX_VIDEO_BYTES"), 10, 64); err != nil || n < 1<<20 || n > 4<<30 {
		bad("KOROBKA_MAX_VIDEO_BYTES", "%q is not a number of bytes from 1048576 (1 MiB) to 4294967296 (4 GiB)", get("KOROBKA_MAX_VIDEO_BYTES"))
	} else {
		cfg.MaxVideoBytes = n
	}
	if n, err := strconv.Atoi(get("KOROBKA_SYNC_CACHE_BYTES")); err != nil || n < 0 || n > 1<<30 {
		bad("KOROBKA_SYNC_CACHE_BYTES", "%q is not a number of bytes from 0 (off) to 1073741824 (1 GiB)", get("KOROBKA_SYNC_CACHE_BYTES"))
	} else {
		cfg.SyncCacheBytes = n
	}
	cfg.FFmpeg = get("KOROBKA_FFMPEG")
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid configuration:\n  %w", errors.Join(errs...))
	}
	return cfg, nil
}

// warning is a setting that is dangerous on a public server, and why.
type warning struct{ setting, why string }

// warnings lists the dangerous settings of cfg, which serve logs at start,
// each naming its variable, so an operator reading the log sees them.
func (cfg Config) warnings() []warning {
	var ws []warning
	if cfg.Dev {
		ws = append(ws, warning{"KOROBKA_DEV", "development mode: the designer preview at /preview/ is open to anyone; never on a public server"})
	}
	if cfg.SMSProvider == "log" && (cfg.MySQLDSN != "" || cfg.RedisURL != "") {
		ws = append(ws, warning{"KOROBKA_SMS_PROVIDER", "login codes are written to the log instead of being sent, on a production setup (MySQL or Redis): anyone who reads the log can log in as anyone; set KOROBKA_SMS_PROVIDER=smsru"})
	}
	if p := cfg.TestPhones.Prefixes(); len(p) > 0 {
		ws = append(ws, warning{"KOROBKA_TEST_PHONES", fmt.Sprintf("test-number prefixes %s log in every number they cover with a fixed code, real people's included: for QA and load tests only", strings.Join(p, ", "))})
	}
	if cfg.LoopbackUnlimited {
		ws = append(ws, warning{"KOROBKA_LOOPBACK_UNLIMITED", "clients on loopback skip the per-address login limits: for korobka bench only; behind a proxy on this host without KOROBKA_TRUSTED_PROXIES every client is on loopback"})
	}
	if !cfg.OutboundAllow.Empty() {
		ws = append(ws, warning{"KOROBKA_OUTBOUND_ALLOW", "fetches of URLs that users post (link previews) may reach " + cfg.OutboundAllow.String() + " inside your network: anyone who can send a message can make the server request those addresses; for tests only"})
	}
	return ws
}

// parseInt reads a whole number within [min, max], or reports env.
func parseInt(s, env string, min, max int, bad func(string, string, ...any)) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		bad(env, "%q is not a whole number from %d to %d", s, min, max)
		return 0
	}
	return n
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
	cfg.BusinessName = get("KOROBKA_BUSINESS_NAME")
	if _, err := chat.CleanText(cfg.BusinessName, chat.TextRule{MaxChars: chat.MaxNameLen}); err != nil {
		bad("KOROBKA_BUSINESS_NAME", "%v", err)
	}
}
