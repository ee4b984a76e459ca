package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// wait is how long a step may take before the test fails.
const wait = 20 * time.Second

// browser is one headless Chromium shared by the tests, each in its own tab; it is
// started by the first test that needs it and stopped by TestMain.
type browser struct {
	once sync.Once
	ctx  context.Context
	stop func()
	err  error
}

var shared browser

func (b *browser) start(exe string) (context.Context, error) {
	b.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.WindowSize(1280, 800),
			chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-extensions", true))
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		b.ctx, b.stop = ctx, func() { cancel(); cancelAlloc() }
		b.err = chromedp.Do(ctx) // starts the browser
	})
	return b.ctx, b.err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	os.Exit(code)
}

// page is one tab of headless Chromium.
type page struct {
	t   testing.TB
	ctx context.Context
	url string
}

// chromium finds Debian's chromium: a test without it fails when
// CAIRN_BROWSER_REQUIRED=1 and skips otherwise.
func chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CAIRN_BROWSER_REQUIRED") == "1" {
		t.Fatal("chromium is missing and CAIRN_BROWSER_REQUIRED=1: run testdata/browser/setup.sh")
	}
	t.Skip("chromium is missing (testdata/browser/setup.sh installs it)")
	return ""
}

// open starts headless Chromium on a desktop-sized window and loads the dashboard
// at hash.
func open(t testing.TB, s *site, hash string) *page {
	t.Helper()
	bctx, err := shared.start(chromium(t))
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelTab := chromedp.NewContext(bctx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab() })
	p := &page{t: t, ctx: ctx, url: s.url}
	p.do(chromedp.EmulateViewport(1280, 800))
	p.do(chromedp.Navigate(s.url + "/" + hash))
	p.ready()
	return p
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v (page says: %s)", err, p.state())
	}
}

// state is what the page shows in its error and status boxes, for failure messages.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[location.hash, document.getElementById("error")?.innerText, document.getElementById("notice")?.innerText, document.getElementById("job-text")?.innerText, (document.getElementById("main")?.innerText || "").slice(0, 400)].join(" | ")`))
	return s
}

// until waits for a JavaScript expression to be true.
func (p *page) until(what, expr string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(wait))); err != nil {
		p.t.Fatalf("waiting for %s: %v (page says: %s)", what, err, p.state())
	}
}

// ready waits until the view has loaded.
func (p *page) ready() {
	p.t.Helper()
	p.until("the view", `document.querySelector("main[data-ready]") !== null`)
}

// goTo shows the view a hash names, loaded afresh.
func (p *page) goTo(hash string) {
	p.t.Helper()
	h := strconv.Quote(hash)
	p.unready()
	p.do(chromedp.Evaluate[chromedp.Void](`if (location.hash === ` + h + `) window.dispatchEvent(new HashChangeEvent("hashchange")); else location.hash = ` + h))
	p.ready()
}

// unready marks the view shown as left, so that ready waits for the next one: a click
// or a search changes the hash, and the view it leads to replaces the old one only
// once the hash change is handled, after the action returns.
func (p *page) unready() {
	p.t.Helper()
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("main").removeAttribute("data-ready")`))
}

// follow clicks a link or button that leads to another view and waits for that view.
func (p *page) follow(sel string) {
	p.t.Helper()
	p.unready()
	p.click(sel)
	p.ready()
}

// search types into a search field, submits it, and waits for the view it leads to.
func (p *page) search(sel, text string) {
	p.t.Helper()
	p.unready()
	p.typeIn(sel, text)
	p.ready()
}

// text is the visible text of the first element sel matches.
func (p *page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(document.querySelector(`+strconv.Quote(sel)+`)||{}).innerText || ""`))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// hash is the location's hash.
func (p *page) hash() string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`location.hash`))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.do(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// typeIn types into a field and presses Enter.
func (p *page) typeIn(sel, text string) {
	p.t.Helper()
	p.do(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Focus(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](`document.activeElement.select()`), chromedp.SendKeys(chromedp.CSS(sel), text+"\r"))
}

// screenshots saves the page at desktop (1280x800) and phone (375x812) width under
// $CAIRN_SCREENSHOTS as name-desktop.png and name-phone.png, and checks that
// nothing is wider than the phone's screen.
func (p *page) screenshots(name string) {
	p.t.Helper()
	dir := os.Getenv("CAIRN_SCREENSHOTS")
	if dir == "" {
		dir = p.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	for _, v := range []struct {
		size string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 375, 812}} {
		opts := []chromedp.EmulateViewportOption{}
		if v.size == "phone" {
			opts = append(opts, chromedp.EmulatePortrait, chromedp.EmulateMobile)
		}
		p.do(chromedp.EmulateViewport(v.w, v.h, opts...))
		if v.size == "phone" {
			wide, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			if err != nil {
				p.t.Fatal(err)
			}
			if wide > int(v.w)+1 {
				p.t.Errorf("%s: the page is %d px wide at a phone's %d px", name, wide, v.w)
			}
		}
		png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, v.size)), png, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	p.do(chromedp.EmulateViewport(1280, 800))
}

// dark switches the page to the dark colour scheme.
func (p *page) dark(on bool) {
	p.t.Helper()
	v := "light"
	if on {
		v = "dark"
	}
	p.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
		return err
	}))
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
