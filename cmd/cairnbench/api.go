package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cairn/engine/exported"
	"cairn/engine/gendb"
)

// runAPI measures database import and export through a real cairn serve: the
// throughput of each, and the daemon's peak memory (VmHWM) in a fresh process for each.
func runAPI(cairn string, size int64, work string, seed int64) error {
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	db := filepath.Join(work, "db")
	gs, err := gendb.Generate(db, gendb.Options{Size: size, Seed: seed})
	if err != nil {
		return err
	}
	doc := filepath.Join(work, "export.json")
	docSize, err := writeDocument(db, doc)
	if err != nil {
		return err
	}
	data := filepath.Join(work, "data")

	d, err := startDaemon(cairn, data)
	if err != nil {
		return err
	}
	f, err := os.Open(doc)
	if err != nil {
		return err
	}
	// The document goes with its length, as a client that has it in a file sends it.
	req, err := http.NewRequest(http.MethodPost, d.base+"/database/import", bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		d.stop()
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = docSize
	stopA := make(chan struct{})
	anonA := d.sampleAnon(stopA)
	cpuA := d.cpu()
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	f.Close()
	if err != nil {
		d.stop()
		return err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	importTime := time.Since(start)
	importCPU := d.cpu() - cpuA
	close(stopA)
	importAnon := <-anonA
	importPeak := d.peak()
	d.stop()
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("import answered %s", res.Status)
	}

	d, err = startDaemon(cairn, data)
	if err != nil {
		return err
	}
	stopB := make(chan struct{})
	anonB := d.sampleAnon(stopB)
	cpuB := d.cpu()
	start = time.Now()
	res, err = http.Get(d.base + "/database/export")
	if err != nil {
		d.stop()
		return err
	}
	exportSize, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	exportTime := time.Since(start)
	exportCPU := d.cpu() - cpuB
	close(stopB)
	exportAnon := <-anonB
	exportPeak := d.peak()
	d.stop()
	if err != nil || res.StatusCode != http.StatusOK {
		return fmt.Errorf("export: %v %s", err, res.Status)
	}
	fmt.Printf("Database: %s in %d records (generator seed %d); its ExportedDatabase document is %s.\n\n", human(gs.Bytes), gs.Records, seed, human(docSize))
	fmt.Println("| operation | time | database MB/s | document MB/s | daemon CPU | daemon peak RSS (all) | daemon peak heap (RssAnon) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	fmt.Printf("| POST /database/import | %s | %.0f | %.0f | %s | %s | %s |\n", importTime.Round(time.Millisecond), float64(gs.Bytes)/1e6/importTime.Seconds(), float64(docSize)/1e6/importTime.Seconds(), importCPU, human(importPeak), human(importAnon))
	fmt.Printf("| GET /database/export | %s | %.0f | %.0f | %s | %s | %s |\n", exportTime.Round(time.Millisecond), float64(gs.Bytes)/1e6/exportTime.Seconds(), float64(exportSize)/1e6/exportTime.Seconds(), exportCPU, human(exportPeak), human(exportAnon))
	return nil
}

// writeDocument encodes a folder database as an ExportedDatabase file, streaming.
func writeDocument(dir, path string) (int64, error) {
	out, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	cw := &counter{w: out}
	enc := exported.NewEncoder(cw)
	if err := enc.WriteFolder(dir); err != nil {
		return 0, err
	}
	if err := enc.Close(exported.Meta{Version: "11.2.0"}); err != nil {
		return 0, err
	}
	return cw.n, nil
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type daemon struct {
	cmd  *exec.Cmd
	base string
}

func startDaemon(cairn, data string) (*daemon, error) {
	cmd := exec.Command(cairn, "serve", "--addr", "127.0.0.1:0", "--data", data)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("cairn serve: %v", err)
	}
	go io.Copy(io.Discard, out)
	return &daemon{cmd: cmd, base: strings.Fields(line)[3]}, nil
}

// status reads one "Name: N kB" figure of the process.
func (d *daemon) status(name string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(name+":")); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpu is the processor time the process has used, user and system (0 where /proc has
// no stat): on a shared machine it says what wall time cannot.
func (d *daemon) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses: utime and stime
	// are the 12th and 13th, in clock ticks of 1/100 s.
	end := bytes.LastIndex(b, []byte(") "))
	if end < 0 {
		return 0
	}
	f := strings.Fields(string(b[end+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// peak is the process's peak resident set size, mapped database pages included.
func (d *daemon) peak() int64 { return d.status("VmHWM") }

// sampleAnon polls the process's anonymous (heap) memory until stop is closed and
// returns the largest value seen.
func (d *daemon) sampleAnon(stop chan struct{}) chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, d.status("RssAnon"))
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func (d *daemon) stop() {
	d.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}
