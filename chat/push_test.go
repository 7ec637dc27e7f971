package chat_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/apns"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/fcm"
	"github.com/korobka/korobka/chat/memory"
	"github.com/korobka/korobka/chat/redis"
)

// Tests of push notifications through the Service: real SQLite, the memory
// queue and foreground, and the real APNs and FCM senders talking to local
// fakes. The Service's clock drives the queue, so a test skips the push
// delay or a backoff by advancing it.

// pushFixture is a Service with the push pipeline and what tests observe
// it through.
type pushFixture struct {
	*fixture
	apns    *chattest.FakeAPNs
	fcm     *chattest.FakeFCM
	queue   *memory.Queue
	fg      *memory.Foreground
	metrics *pushMetrics
}

const (
	apnsToken  = "aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0001"
	apnsToken2 = "aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0002"
	fcmToken   = "fcm:APA91b-android-device-token-0001"
)

// pushOptions tune a push fixture.
type pushOptions struct {
	hidePreviews bool
	maxDevices   int
	maxAttempts  int
}

func newPushService(t *testing.T, o pushOptions) *pushFixture {
	t.Helper()
	pf := &pushFixture{apns: chattest.NewFakeAPNs(t), fcm: chattest.NewFakeFCM(t), fg: memory.NewForeground(), metrics: newPushMetrics()}
	apnsSender, err := apns.New(apns.Config{Key: pf.apns.KeyPEM, KeyID: pf.apns.KeyID, TeamID: pf.apns.TeamID,
		Topic: "com.example.korobka", Host: pf.apns.URL, TLS: pf.apns.TLS})
	if err != nil {
		t.Fatal(err)
	}
	fcmSender, err := fcm.New(t.Context(), fcm.Config{Credentials: pf.fcm.CredentialsJSON, Endpoint: pf.fcm.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	pf.fixture = newTestService(t, func(f *fixture, cfg *chat.Config) {
		pf.queue = memory.NewQueue(memory.QueueConfig{
			Policy:       chat.RetryPolicy{Base: time.Second, Max: time.Minute, MaxAttempts: max(o.maxAttempts, 12)},
			ClaimTimeout: time.Minute,
			Block:        5 * time.Millisecond,
			Now:          f.clock.Now,
		})
		cfg.Push = chat.PushConfig{
			Queue:        pf.queue,
			Pushers:      map[chat.Platform]chat.Pusher{chat.PlatformAPNs: apnsSender, chat.PlatformFCM: fcmSender},
			Foreground:   pf.fg,
			Metrics:      pf.metrics,
			HidePreviews: o.hidePreviews,
			MaxDevices:   o.maxDevices,
			SendTimeout:  300 * time.Millisecond,
			Workers:      1,
		}
	})
	return pf
}

// register adds a device for u.
func (pf *pushFixture) register(t *testing.T, u *user, platform chat.Platform, token, locale string) chat.DeviceView {
	t.Helper()
	v, err := pf.svc.RegisterDevice(context.Background(), u.p, chat.DeviceRequest{Platform: platform, Token: token, Locale: locale})
	if err != nil {
		t.Fatalf("register device: %v", err)
	}
	return v
}

// settle advances the clock past the push delay and waits until the
// metrics show n more jobs finished one way or another (sent, skipped,
// retried or dead).
func (pf *pushFixture) settle(t *testing.T, n int) {
	t.Helper()
	pf.settleFrom(t, pf.metrics.finished(), n)
}

// settleFrom is settle counting from base, a count taken before the jobs
// were made, for jobs without a delay, which may finish before settle
// could read the count.
func (pf *pushFixture) settleFrom(t *testing.T, base, n int) {
	t.Helper()
	pf.clock.Advance(chat.DefaultPushDelay)
	waitFor(t, fmt.Sprintf("%d push jobs handled", n), func() bool { return pf.metrics.finished() >= base+n })
}

// shown waits for the phone with token to show n notifications.
func (pf *pushFixture) shown(t *testing.T, token string, n int) []chattest.APNsPush {
	t.Helper()
	var got []chattest.APNsPush
	waitFor(t, fmt.Sprintf("%d notifications on %s", n, token[:8]), func() bool {
		got = pf.apns.Shown(token)
		return len(got) >= n
	})
	return got
}

func TestPushNewMessage(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "ru-RU")
	pf.register(t, boris, chat.PlatformFCM, fcmToken, "en")
	pf.register(t, anna, chat.PlatformAPNs, apnsToken2, "en") // the sender's own phone gets nothing
	d := pf.direct(t, anna, boris)
	pf.send(t, anna, d, "c1", "привет")
	pf.settle(t, 1)

	p := pf.shown(t, apnsToken, 1)[0]
	title, body := p.Alert()
	ds := strconv.FormatInt(d, 10)
	if title != "Anna" || body != "привет" || p.Aps("badge") != float64(1) || p.Aps("thread-id") != "d"+ds ||
		p.Payload["dialog_id"] != ds || p.Payload["seq"] != "1" || p.CollapseID != chat.JobKey(chat.JobMessage, d, 1, boris.id) {
		t.Fatalf("push: got %q / %q, payload %v, collapse id %q; want Anna / привет, badge 1, the dialog's thread and deep link",
			title, body, p.Payload, p.CollapseID)
	}
	waitFor(t, "the FCM message", func() bool { return len(pf.fcm.Messages()) == 1 })
	if m := pf.fcm.Messages()[0]; m.Token != fcmToken || m.Notification.Title != "Anna" || m.Data["badge"] != "1" {
		t.Fatalf("fcm: got %+v, want Boris's Android device with the same alert", m)
	}
	if got := pf.apns.Shown(apnsToken2); len(got) != 0 {
		t.Fatalf("the sender's own phone shows %d notifications, want none", len(got))
	}
	if pf.metrics.get("sent:apns") != 1 || pf.metrics.get("sent:fcm") != 1 || pf.metrics.get("queued:message") != 1 {
		t.Fatalf("metrics: %v, want one job queued and sent to each platform", pf.metrics.snapshot())
	}
}

func TestPushSkippedWhileForeground(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	d := pf.direct(t, anna, boris)
	ctx := context.Background()
	// One connection in the foreground (on any node) is enough; another in
	// the background changes nothing.
	if err := pf.svc.SetAppState(ctx, boris.p, 101, true); err != nil {
		t.Fatal(err)
	}
	if err := pf.svc.SetAppState(ctx, boris.p, 102, false); err != nil {
		t.Fatal(err)
	}
	pf.send(t, anna, d, "c1", "seen live")
	pf.settle(t, 1)
	if n := pf.metrics.get("skipped:foreground"); n != 1 {
		t.Fatalf("skipped as foreground: %d, want 1 (metrics %v)", n, pf.metrics.snapshot())
	}
	// The app goes to the background: the next message wakes the phone.
	if err := pf.svc.SetAppState(ctx, boris.p, 101, false); err != nil {
		t.Fatal(err)
	}
	pf.send(t, anna, d, "c2", "now pushed")
	pf.settle(t, 1)
	if _, body := pf.shown(t, apnsToken, 1)[0].Alert(); body != "now pushed" {
		t.Fatalf("got %q, want only the message sent while in the background", body)
	}
}

func TestPushMutedDialog(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	d := pf.direct(t, anna, boris)
	ctx := context.Background()
	st, err := pf.svc.MuteDialog(ctx, boris.p, d, true, nil)
	if err != nil || !st.Muted || st.MutedUntil != nil {
		t.Fatalf("mute: got %+v, %v; want muted until unmuted", st, err)
	}
	pf.send(t, anna, d, "c1", "muted")
	pf.settle(t, 1)
	if pf.metrics.get("skipped:muted") != 1 {
		t.Fatalf("metrics %v, want the job skipped as muted", pf.metrics.snapshot())
	}
	// A timed mute ends by itself.
	until := pf.clock.Now().Add(time.Hour)
	if st, err = pf.svc.MuteDialog(ctx, boris.p, d, true, &until); err != nil || st.MutedUntil == nil {
		t.Fatalf("mute for an hour: got %+v, %v", st, err)
	}
	if v, err := pf.svc.Dialog(ctx, boris.p, d); err != nil || !v.Muted || v.MutedUntil == nil {
		t.Fatalf("dialog view while muted: got muted %v until %v, %v", v.Muted, v.MutedUntil, err)
	}
	pf.clock.Advance(time.Hour)
	pf.send(t, anna, d, "c2", "after the mute")
	pf.settle(t, 1)
	if _, body := pf.shown(t, apnsToken, 1)[0].Alert(); body != "after the mute" {
		t.Fatalf("got %q, want the message sent after the mute ended", body)
	}
	// Bad input changes nothing.
	past := pf.clock.Now().Add(-time.Minute)
	_, err = pf.svc.MuteDialog(ctx, boris.p, d, true, &past)
	wantCode(t, "mute until a past time", err, "invalid_until")
	_, err = pf.svc.MuteDialog(ctx, boris.p, d, false, &until)
	wantCode(t, "unmute with until", err, "invalid_until")
	stranger := pf.newUser(t, "Eve")
	_, err = pf.svc.MuteDialog(ctx, stranger.p, d, true, nil)
	wantCode(t, "mute a dialog one is not in", err, "not_found")
}

// TestPushSkippedWhenReadWithinDelay: a message delivered live and read on
// another device before the push delay ends is not pushed.
func TestPushSkippedWhenReadWithinDelay(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	d := pf.direct(t, anna, boris)
	pf.send(t, anna, d, "c1", "read at once")
	if _, err := pf.svc.Read(context.Background(), boris.p, d, 1); err != nil {
		t.Fatal(err)
	}
	pf.settle(t, 2) // the message job and the read job
	if pf.metrics.get("skipped:read") != 1 || pf.metrics.get("skipped:nothing_shown") != 1 || len(pf.apns.Pushes()) != 0 {
		t.Fatalf("metrics %v, pushes %d: want the alert skipped as read and no silent push", pf.metrics.snapshot(), len(pf.apns.Pushes()))
	}
}

// TestPushReadOnAnotherDevice: once an alert was shown, reading the dialog
// elsewhere sends one silent push that drops the badge; later reads send
// none.
func TestPushReadOnAnotherDevice(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	d := pf.direct(t, anna, boris)
	pf.send(t, anna, d, "c1", "one")
	pf.send(t, anna, d, "c2", "two")
	pf.settle(t, 2)
	shown := pf.shown(t, apnsToken, 2)
	if shown[1].Aps("badge") != float64(2) {
		t.Fatalf("second alert badge: got %v, want 2", shown[1].Aps("badge"))
	}
	ctx := context.Background()
	if _, err := pf.svc.Read(ctx, boris.p, d, 2); err != nil {
		t.Fatal(err)
	}
	pf.settle(t, 1)
	var silent []chattest.APNsPush
	for _, p := range pf.apns.Pushes() {
		if p.Aps("content-available") != nil {
			silent = append(silent, p)
		}
	}
	if len(silent) != 1 || silent[0].Aps("badge") != float64(0) || silent[0].Payload["read_seq"] != "2" || silent[0].Payload["kind"] != "read" {
		t.Fatalf("silent pushes: got %+v, want one with badge 0 and read_seq 2", silent)
	}
	// Nothing more is on the phone: another message read at once sends
	// no silent push.
	pf.send(t, anna, d, "c3", "three")
	if _, err := pf.svc.Read(ctx, boris.p, d, 3); err != nil {
		t.Fatal(err)
	}
	pf.settle(t, 2)
	if n := pf.metrics.get("sent:apns"); n != 3 {
		t.Fatalf("sent %d, want the two alerts and one silent push", n)
	}
}

func TestPushGoneTokenRemovesDevice(t *testing.T) {
	for _, tc := range []struct {
		name     string
		platform chat.Platform
		token    string
		fail     func(pf *pushFixture)
	}{
		{"APNs410", chat.PlatformAPNs, apnsToken, func(pf *pushFixture) {
			pf.apns.Fail(apnsToken, chattest.PushFailure{Status: 410, Reason: "Unregistered"})
		}},
		{"APNsBadDeviceToken", chat.PlatformAPNs, apnsToken, func(pf *pushFixture) {
			pf.apns.Fail(apnsToken, chattest.PushFailure{Status: 400, Reason: "BadDeviceToken"})
		}},
		{"FCMUnregistered", chat.PlatformFCM, fcmToken, func(pf *pushFixture) {
			pf.fcm.Fail(fcmToken, chattest.PushFailure{Status: 404, Reason: "UNREGISTERED"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf := newPushService(t, pushOptions{})
			anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
			pf.register(t, boris, tc.platform, tc.token, "en")
			tc.fail(pf)
			d := pf.direct(t, anna, boris)
			pf.send(t, anna, d, "c1", "to a dead token")
			pf.settle(t, 1)
			devs, err := pf.store.Devices(context.Background(), []int64{boris.id}, pf.clock.Now())
			if err != nil || len(devs) != 0 {
				t.Fatalf("devices after the push service said gone: got %d, %v; want none", len(devs), err)
			}
			if pf.metrics.get("removed:gone") != 1 || pf.metrics.get("retried") != 0 {
				t.Fatalf("metrics %v, want the device removed and nothing retried", pf.metrics.snapshot())
			}
		})
	}
}

// TestPushRetriedWithBackoff: 429, 5xx and timeouts are retried after a
// backoff and then delivered, once.
func TestPushRetriedWithBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail chattest.PushFailure
	}{
		{"429", chattest.PushFailure{Status: 429, Reason: "TooManyRequests", Times: 2}},
		{"500", chattest.PushFailure{Status: 500, Reason: "InternalServerError", Times: 2}},
		{"503", chattest.PushFailure{Status: 503, Reason: "ServiceUnavailable", Times: 2}},
		{"Timeout", chattest.PushFailure{Hang: true, Times: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf := newPushService(t, pushOptions{})
			anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
			pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
			pf.apns.Fail(apnsToken, tc.fail)
			d := pf.direct(t, anna, boris)
			pf.send(t, anna, d, "c1", "eventually")
			pf.settle(t, 1)
			if pf.metrics.get("retried") != 1 || len(pf.apns.Pushes()) != 0 {
				t.Fatalf("after the first failure: metrics %v, want one retry and nothing sent", pf.metrics.snapshot())
			}
			// The first retry is due within 1 s, the second within 2 s.
			pf.clock.Advance(time.Second)
			pf.settle(t, 1)
			pf.clock.Advance(2 * time.Second)
			pf.settle(t, 1)
			if shown := pf.shown(t, apnsToken, 1); len(shown) != 1 || pf.metrics.get("retried") != 2 || pf.metrics.get("dead") != 0 {
				t.Fatalf("shown %d, metrics %v: want it shown once after two retries", len(shown), pf.metrics.snapshot())
			}
		})
	}
}

// TestPushOutageCatchesUp: APNs down for minutes; every job backs off and
// is delivered once it is back, none dead and none twice.
func TestPushOutageCatchesUp(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	d := pf.direct(t, anna, boris)
	pf.apns.Outage(chattest.PushFailure{Status: 503, Reason: "ServiceUnavailable"})
	const n = 20
	for i := range n {
		pf.send(t, anna, d, fmt.Sprint("c", i), fmt.Sprint("message ", i))
	}
	pf.settle(t, n)
	// Ten minutes of outage, in steps: the jobs keep backing off.
	for range 20 {
		pf.clock.Advance(30 * time.Second)
		pf.settle(t, 0)
	}
	if pf.metrics.get("dead") != 0 || len(pf.apns.Pushes()) != 0 {
		t.Fatalf("during the outage: metrics %v, want retries only", pf.metrics.snapshot())
	}
	attempts := pf.apns.Attempts()
	pf.apns.Restore()
	waitFor(t, "all messages delivered after the outage", func() bool {
		pf.clock.Advance(30 * time.Second)
		return len(pf.apns.Shown(apnsToken)) == n
	})
	if attempts > n*12 {
		t.Errorf("%d attempts during the outage for %d jobs: backoff is not spacing them", attempts, n)
	}
	if got := len(pf.apns.Pushes()); got != n || pf.metrics.get("dead") != 0 {
		t.Fatalf("sent %d (metrics %v), want each of the %d once", got, pf.metrics.snapshot(), n)
	}
}

func TestPushDeadLetterAfterMaxAttempts(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	pf.apns.Fail(apnsToken, chattest.PushFailure{Status: 400, Reason: "PayloadTooLarge"})
	d := pf.direct(t, anna, boris)
	pf.send(t, anna, d, "c1", "refused")
	pf.settle(t, 1)
	dead, err := pf.queue.DeadLetters(context.Background(), 10)
	if err != nil || len(dead) != 1 || pf.metrics.get("dead") != 1 {
		t.Fatalf("dead letters %+v, %v, metrics %v: want the refused job", dead, err, pf.metrics.snapshot())
	}
	if dead[0].LastError == "" || dead[0].Key != chat.JobKey(chat.JobMessage, d, 1, boris.id) {
		t.Fatalf("dead letter %+v: want its key and why", dead[0])
	}
}

func TestPushPreviews(t *testing.T) {
	pf := newPushService(t, pushOptions{hidePreviews: true})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "ru")
	d := pf.direct(t, anna, boris)
	pf.send(t, anna, d, "c1", "secret text")
	pf.settle(t, 1)
	if _, body := pf.shown(t, apnsToken, 1)[0].Alert(); body != "Новое сообщение" {
		t.Fatalf("hidden preview: got %q, want the Russian \"New message\"", body)
	}
}

func TestPushLogoutRemovesDevices(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	boris := pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	ctx := context.Background()
	// Another session of Boris keeps its device.
	if _, err := pf.svc.RequestCode(ctx, boris.phone, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	other, err := pf.svc.Verify(ctx, boris.phone, testCode, "127.0.0.1", "tablet")
	if err != nil {
		t.Fatal(err)
	}
	op, err := pf.svc.Authenticate(ctx, other.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pf.svc.RegisterDevice(ctx, op, chat.DeviceRequest{Platform: chat.PlatformFCM, Token: fcmToken}); err != nil {
		t.Fatal(err)
	}
	if err := pf.svc.Logout(ctx, boris.p); err != nil {
		t.Fatal(err)
	}
	devs, err := pf.store.Devices(ctx, []int64{boris.id}, pf.clock.Now())
	if err != nil || len(devs) != 1 || devs[0].Token != fcmToken {
		t.Fatalf("devices after logging out one session: got %+v, %v; want only the other session's", devs, err)
	}
}

func TestDeviceTokenMovesToLatestUser(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	first := pf.register(t, anna, chat.PlatformAPNs, apnsToken, "en")
	again := pf.register(t, boris, chat.PlatformAPNs, strings.ToUpper(apnsToken), "ru")
	if again.ID != first.ID || again.Locale != "ru" {
		t.Fatalf("re-registering a token: got %+v, want the same device updated", again)
	}
	ctx := context.Background()
	devs, err := pf.store.Devices(ctx, []int64{anna.id, boris.id}, pf.clock.Now())
	if err != nil || len(devs) != 1 || devs[0].UserID != boris.id {
		t.Fatalf("devices: got %+v, %v; want the token with Boris only", devs, err)
	}
	// Anna cannot delete what is now Boris's; Boris can.
	wantCode(t, "delete another user's token", pf.svc.UnregisterDevice(ctx, anna.p, apnsToken), "not_found")
	if err := pf.svc.UnregisterDevice(ctx, boris.p, apnsToken); err != nil {
		t.Fatalf("delete own token: %v", err)
	}
	wantCode(t, "delete it twice", pf.svc.UnregisterDevice(ctx, boris.p, apnsToken), "not_found")
}

func TestDeviceCap(t *testing.T) {
	pf := newPushService(t, pushOptions{maxDevices: 3})
	boris := pf.newUser(t, "Boris")
	for i := range 4 {
		pf.register(t, boris, chat.PlatformFCM, fmt.Sprint("fcm-device-token-", i), "en")
	}
	devs, err := pf.store.Devices(context.Background(), []int64{boris.id}, pf.clock.Now())
	if err != nil || len(devs) != 3 {
		t.Fatalf("devices: got %d, %v; want the cap of 3", len(devs), err)
	}
	for _, d := range devs {
		if d.Token == "fcm-device-token-0" {
			t.Fatal("the oldest device survived the cap")
		}
	}
	if pf.metrics.get("removed:evicted") != 1 {
		t.Fatalf("metrics %v, want one device evicted", pf.metrics.snapshot())
	}
}

func TestRegisterDeviceRefusesBadInput(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	boris := pf.newUser(t, "Boris")
	for _, tc := range []struct {
		req  chat.DeviceRequest
		code string
	}{
		{chat.DeviceRequest{Platform: "webpush", Token: apnsToken}, "invalid_platform"},
		{chat.DeviceRequest{Platform: chat.PlatformAPNs, Token: "not-hex-" + apnsToken}, "invalid_device_token"},
		{chat.DeviceRequest{Platform: chat.PlatformAPNs, Token: "abc"}, "invalid_device_token"},
		{chat.DeviceRequest{Platform: chat.PlatformFCM, Token: "has spaces in it, not a token"}, "invalid_device_token"},
		{chat.DeviceRequest{Platform: chat.PlatformFCM, Token: strings.Repeat("a", chat.MaxDeviceTokenLen+1)}, "invalid_device_token"},
		{chat.DeviceRequest{Platform: chat.PlatformFCM, Token: fcmToken, AppID: "com.example/evil"}, "invalid_app_id"},
		{chat.DeviceRequest{Platform: chat.PlatformFCM, Token: fcmToken, Locale: "ru; DROP"}, "invalid_locale"},
		{chat.DeviceRequest{Platform: chat.PlatformFCM, Token: fcmToken, TimeZone: "../../etc/passwd"}, "invalid_time_zone"},
	} {
		_, err := pf.svc.RegisterDevice(context.Background(), boris.p, tc.req)
		wantCode(t, fmt.Sprintf("register %+v", tc.req), err, tc.code)
	}
	devs, _ := pf.store.Devices(context.Background(), []int64{boris.id}, pf.clock.Now())
	if len(devs) != 0 {
		t.Fatalf("bad registrations stored %d devices, want none", len(devs))
	}
}

// pushMetrics counts what the pipeline reports, by name.
type pushMetrics struct {
	mu sync.Mutex
	n  map[string]int
}

func newPushMetrics() *pushMetrics { return &pushMetrics{n: map[string]int{}} }

func (m *pushMetrics) add(k string, n int) {
	m.mu.Lock()
	m.n[k] += n
	m.mu.Unlock()
}

func (m *pushMetrics) get(k string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[k]
}

func (m *pushMetrics) snapshot() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for k, v := range m.n {
		out[k] = v
	}
	return out
}

// finished counts jobs handled: settled (acked after sending or
// skipping), retried or dead.
func (m *pushMetrics) finished() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n["settled"] + m.n["retried"] + m.n["dead"]
}

func (m *pushMetrics) JobsQueued(k chat.JobKind, n int) { m.add("queued:"+string(k), n) }
func (m *pushMetrics) JobsDropped(n int)                { m.add("dropped", n) }
func (m *pushMetrics) Sent(p chat.Platform)             { m.add("sent:"+string(p), 1) }
func (m *pushMetrics) JobsSkipped(reason string) {
	m.add("skipped:"+reason, 1)
	m.add("settled", 1)
}
func (m *pushMetrics) JobRetried()                         { m.add("retried", 1) }
func (m *pushMetrics) JobDead()                            { m.add("dead", 1) }
func (m *pushMetrics) DevicesRemoved(reason string, n int) { m.add("removed:"+reason, n) }
func (m *pushMetrics) Latency(time.Duration)               {}
func (m *pushMetrics) JobSent(chat.JobKind)                { m.add("settled", 1) }

// freezingPusher sends the first n pushes and then hangs, as a worker
// whose process froze or was killed mid-batch: what it claimed is never
// acked.
type freezingPusher struct {
	next    chat.Pusher
	mu      sync.Mutex
	n       int
	frozen  chan struct{} // closed at the first hang
	release chan struct{}
	once    sync.Once
}

func (p *freezingPusher) Push(ctx context.Context, d chat.Device, n chat.Notification) error {
	p.mu.Lock()
	ok := p.n > 0
	p.n--
	p.mu.Unlock()
	if ok {
		return p.next.Push(ctx, d, n)
	}
	p.once.Do(func() { close(p.frozen) })
	<-p.release
	return &chat.PushError{Temporary: true, Reason: "frozen"}
}

// TestPushWorkerDiesMidBatch: node A's worker sends part of a batch and
// dies; node B reclaims the batch after the claim timeout. Every message
// reaches the phone, and none shows twice.
func TestPushWorkerDiesMidBatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		queues func(t *testing.T, now func() time.Time) (a, b chat.Queue)
		// reclaim lets the claim timeout pass for the queue.
		reclaim func(pf *pushFixture)
	}{
		{"memory", func(t *testing.T, now func() time.Time) (chat.Queue, chat.Queue) {
			q := memory.NewQueue(memory.QueueConfig{ClaimTimeout: time.Minute, Block: 5 * time.Millisecond, Now: now})
			return q, q
		}, func(pf *pushFixture) { pf.clock.Advance(time.Minute) }},
		{"redis", func(t *testing.T, now func() time.Time) (chat.Queue, chat.Queue) {
			client, err := redisOpen(t)
			if err != nil {
				t.Fatal(err)
			}
			cfg := redis.QueueConfig{Prefix: chattest.RedisPrefix(t) + "push:", ClaimTimeout: 500 * time.Millisecond, Block: 5 * time.Millisecond, Now: now}
			return redis.NewQueue(client, cfg), redis.NewQueue(client, cfg)
		}, func(pf *pushFixture) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := chattest.NewFakeAPNs(t)
			sender, err := apns.New(apns.Config{Key: fake.KeyPEM, KeyID: fake.KeyID, TeamID: fake.TeamID, Topic: "t", Host: fake.URL, TLS: fake.TLS})
			if err != nil {
				t.Fatal(err)
			}
			frozen := &freezingPusher{next: sender, n: 4, frozen: make(chan struct{}), release: make(chan struct{})}
			var qb chat.Queue
			pf := &pushFixture{apns: fake, metrics: newPushMetrics()}
			pf.fixture = newTestService(t, func(f *fixture, cfg *chat.Config) {
				var qa chat.Queue
				qa, qb = tc.queues(t, f.clock.Now)
				cfg.Push = chat.PushConfig{Queue: qa, Pushers: map[chat.Platform]chat.Pusher{chat.PlatformAPNs: frozen},
					Metrics: pf.metrics, Consumer: "node-a", Workers: 1, Batch: 10}
			})
			t.Cleanup(func() { close(frozen.release) }) // let node A's stuck worker end with the test
			anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
			pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
			d := pf.direct(t, anna, boris)
			const n = 10
			for i := range n {
				pf.send(t, anna, d, fmt.Sprint("c", i), fmt.Sprint("message ", i))
			}
			pf.clock.Advance(chat.DefaultPushDelay)
			<-frozen.frozen
			waitFor(t, "node A's first sends", func() bool { return len(fake.Pushes()) >= 4 })

			// Node B: same database, same queue, its own worker.
			startNodeB(t, pf.store, qb, sender, pf.clock.Now)
			tc.reclaim(pf)
			waitFor(t, "every message on the phone", func() bool { return len(fake.Shown(apnsToken)) == n })
			shown := fake.Shown(apnsToken)
			seen := map[string]bool{}
			for _, p := range shown {
				if seen[p.CollapseID] {
					t.Fatalf("notification %s shown twice", p.CollapseID)
				}
				seen[p.CollapseID] = true
			}
			for i := 1; i <= n; i++ {
				if !seen[chat.JobKey(chat.JobMessage, d, int64(i), boris.id)] {
					t.Fatalf("message %d never reached the phone", i)
				}
			}
		})
	}
}

// startNodeB runs a second Service over the same store and queue, as a
// second korobka node whose only job here is pushing.
func startNodeB(t *testing.T, store chat.Store, q chat.Queue, p chat.Pusher, now func() time.Time) {
	t.Helper()
	broker := memory.NewBroker()
	t.Cleanup(func() { broker.Close() })
	svc := chat.NewService(chat.Config{
		Store: store, Broker: broker, Presence: memory.NewPresence(), Limiter: memory.NewLimiter(now), Now: now,
		Push: chat.PushConfig{Queue: q, Pushers: map[chat.Platform]chat.Pusher{chat.PlatformAPNs: p}, Consumer: "node-b", Workers: 1},
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
}

func redisOpen(t *testing.T) (goredis.UniversalClient, error) {
	t.Helper()
	client, err := redis.Open(t.Context(), chattest.RedisURL(t))
	if err == nil {
		t.Cleanup(func() { client.Close() })
	}
	return client, err
}

// TestPushRetryOnlyFailedDevices: when one of a user's devices fails, the
// retry goes to that device only; the one that got the alert gets it once.
func TestPushRetryOnlyFailedDevices(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken2, "en")
	pf.apns.Fail(apnsToken2, chattest.PushFailure{Status: 503, Reason: "ServiceUnavailable", Times: 1})
	d := pf.direct(t, anna, boris)
	pf.send(t, anna, d, "c1", "to two phones")
	pf.settle(t, 1)
	pf.clock.Advance(time.Second)
	pf.settle(t, 1)
	pf.shown(t, apnsToken2, 1)
	n := 0
	for _, p := range pf.apns.Pushes() {
		if p.Token == apnsToken {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the phone that got the alert got it %d times, want once", n)
	}
}

// stalledQueue is a queue whose backend hangs (Redis unreachable): Enqueue
// waits until released or its context ends.
type stalledQueue struct {
	chat.Queue
	release chan struct{}
}

func (q *stalledQueue) Enqueue(ctx context.Context, jobs ...chat.Job) (int, error) {
	<-q.release // a call that hangs past its deadline, as a dead TCP peer can
	return q.Queue.Enqueue(ctx, jobs...)
}

// TestPushNeverBlocksSend: with the queue's backend hanging, sends are
// still acknowledged at once; the jobs wait in a bounded buffer, and what
// overflows it is counted, not dropped silently.
func TestPushNeverBlocksSend(t *testing.T) {
	q := &stalledQueue{Queue: memory.NewQueue(memory.QueueConfig{Block: 5 * time.Millisecond}), release: make(chan struct{})}
	metrics := newPushMetrics()
	const buffer = 16
	f := newTestService(t, func(f *fixture, cfg *chat.Config) {
		cfg.Push = chat.PushConfig{Queue: q, Metrics: metrics, Buffer: buffer}
	})
	t.Cleanup(func() { close(q.release) })
	anna, boris := f.newUser(t, "Anna"), f.newUser(t, "Boris")
	d := f.direct(t, anna, boris)
	const n = 40 // more commits than the buffer holds batches
	for i := range n {
		f.send(t, anna, d, fmt.Sprint("c", i), "while the queue hangs")
	}
	// The enqueuer holds at least one batch in its hung call; the buffer
	// holds the next ones; the rest are counted.
	if got := metrics.get("dropped"); got <= 0 || got > n-buffer-1 {
		t.Fatalf("dropped %d jobs, want some, at most the %d that cannot fit", got, n-buffer-1)
	}
}

// TestPushNotice: a ready-written notice (a group event that concerns the
// member; later broadcasts) is pushed like a message, honouring mute and
// foreground, and queued once per key.
func TestPushNotice(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	d := pf.direct(t, anna, boris)
	n := chat.Notice{Key: "group:added:1", DialogID: d, Title: "Дом", Body: "Анна добавила вас в группу"}
	// A notice has no delay: it may be handled before settle would read
	// the count, so the count is taken first.
	base := pf.metrics.finished()
	pf.svc.Notify(n, boris.id)
	pf.svc.Notify(n, boris.id) // the same notice again: queued once
	pf.settleFrom(t, base, 1)
	p := pf.shown(t, apnsToken, 1)[0]
	if title, body := p.Alert(); title != "Дом" || body != "Анна добавила вас в группу" || p.Payload["kind"] != "notice" {
		t.Fatalf("notice: got %q / %q, payload %v", title, body, p.Payload)
	}
	if _, err := pf.svc.MuteDialog(context.Background(), boris.p, d, true, nil); err != nil {
		t.Fatal(err)
	}
	base = pf.metrics.finished()
	pf.svc.Notify(chat.Notice{Key: "group:renamed:2", DialogID: d, Title: "Дом", Body: "renamed"}, boris.id)
	pf.settleFrom(t, base, 1)
	if len(pf.apns.Pushes()) != 1 || pf.metrics.get("skipped:muted") != 1 {
		t.Fatalf("pushes %d, metrics %v: want the muted dialog's notice skipped", len(pf.apns.Pushes()), pf.metrics.snapshot())
	}
}

// TestPushSettingsRateLimited: mute changes and device registrations are
// limited per user.
func TestPushSettingsRateLimited(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	anna, boris := pf.newUser(t, "Anna"), pf.newUser(t, "Boris")
	d := pf.direct(t, anna, boris)
	ctx := context.Background()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = pf.svc.MuteDialog(ctx, boris.p, d, i%2 == 0, nil)
	}
	wantCode(t, "mute flood", err, "rate_limited")
	err = nil
	for i := 0; i < 100 && err == nil; i++ {
		_, err = pf.svc.RegisterDevice(ctx, boris.p, chat.DeviceRequest{Platform: chat.PlatformFCM, Token: fcmToken})
	}
	wantCode(t, "registration flood", err, "rate_limited")
	wantCode(t, "delete while limited", pf.svc.UnregisterDevice(ctx, boris.p, fcmToken), "rate_limited")
	// Anna's own budget is untouched.
	if _, err := pf.svc.MuteDialog(ctx, anna.p, d, true, nil); err != nil {
		t.Fatalf("another user's mute: %v", err)
	}
}
