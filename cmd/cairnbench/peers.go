package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cairn/engine/gendb"
)

// A peer is a backup tool driven through its command line.
type peer struct {
	name    string
	env     func(repo, work string) []string
	init    func(repo string) [][]string // create the repository, then set it up
	backup  func(repo, src string, n int) []string
	restore func(repo, src, target string) []string // the latest backup of src; run with target as working folder
	check   func(repo string) []string
}

// peers lists cairn, restic and borg, then kopia when its binary is given. The first
// two also run through rest-server (runPeers); borg and kopia have no backend for it.
func peers(cairn, restic, borg, kopia string) []peer {
	ps := []peer{
		{
			name: "cairn",
			env: func(repo, work string) []string {
				return []string{"CAIRN_REPOSITORY=" + repo, "CAIRN_PASSWORD=bench", "CAIRN_CACHE_DIR=" + filepath.Join(work, "cache")}
			},
			init: func(string) [][]string { return [][]string{{cairn, "init"}} },
			backup: func(_, src string, _ int) []string {
				return []string{cairn, "--no-progress", "backup", src}
			},
			restore: func(_, _, target string) []string {
				return []string{cairn, "--no-progress", "restore", "latest", "--target", filepath.Join(target, "out")}
			},
			check: func(string) []string { return []string{cairn, "--no-progress", "check", "--read-data"} },
		},
		{
			name: "restic",
			env: func(repo, work string) []string {
				return []string{"RESTIC_REPOSITORY=" + repo, "RESTIC_PASSWORD=bench", "RESTIC_CACHE_DIR=" + filepath.Join(work, "cache")}
			},
			init:   func(string) [][]string { return [][]string{{restic, "init", "--quiet"}} },
			backup: func(_, src string, _ int) []string { return []string{restic, "backup", "--quiet", src} },
			restore: func(_, _, target string) []string {
				return []string{restic, "restore", "latest", "--quiet", "--target", target}
			},
			check: func(string) []string { return []string{restic, "check", "--read-data", "--quiet"} },
		},
		{
			name: "borg",
			env: func(repo, work string) []string {
				return []string{"BORG_PASSPHRASE=bench", "BORG_BASE_DIR=" + filepath.Join(work, "base"), "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes"}
			},
			init: func(repo string) [][]string { return [][]string{{borg, "init", "--encryption=repokey", repo}} },
			backup: func(repo, src string, n int) []string {
				return []string{borg, "create", fmt.Sprintf("%s::b%d", repo, n), src}
			},
			restore: func(repo, _, _ string) []string { return []string{borg, "extract", repo + "::b2"} },
			check:   func(repo string) []string { return []string{borg, "check", "--verify-data", repo} },
		},
	}
	if kopia != "" {
		ps = append(ps, kopiaPeer(kopia))
	}
	return ps
}

// sample is one measured command.
type sample struct {
	wall, cpu      time.Duration
	rss            int64 // peak resident set, bytes
	stored         int64 // growth of the repository folder, bytes
	sent, received int64 // bytes on the wire, for repositories behind rest-server
}

func runCmd(args []string, env []string, dir string) (sample, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	s := sample{wall: time.Since(start)}
	if err != nil {
		return s, fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	s.rss = peakRSS(cmd.ProcessState)
	return s, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// server is a repository server on loopback (rest-server or MinIO) behind a
// byte-counting proxy.
type server struct {
	root, base string
	meter      *meter
	stop       func()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startRESTServer(bin, root string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return startServer(exec.Command(bin, "--path", root, "--listen", addr, "--no-auth"), addr, root, "/")
}

// MinIO's root credentials in the benchmark.
const minioUser, minioSecret = "cairnbench", "cairnbench-secret"

func startMinIO(bin, root string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	console, err := freeAddr()
	if err != nil {
		return nil, err
	}
	home := root + "-home"
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console,
		"--certs-dir", filepath.Join(home, "certs"), root)
	cmd.Env = append(os.Environ(), "HOME="+home, "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioSecret,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	return startServer(cmd, addr, root, "/minio/health/cluster")
}

// startServer starts cmd, waits until addr answers health with 200, and puts the
// counting proxy in front.
func startServer(srv *exec.Cmd, addr, root, health string) (*server, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	up := false
	client := &http.Client{Timeout: time.Second}
	for i := 0; i < 1500 && !up; i++ {
		if resp, err := client.Get("http://" + addr + health); err == nil {
			resp.Body.Close()
			up = resp.StatusCode == http.StatusOK || health == "/" && resp.StatusCode < 500
		}
		if !up {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !up {
		srv.Process.Kill()
		srv.Wait()
		return nil, fmt.Errorf("%s did not start on %s", srv.Path, addr)
	}
	target, _ := url.Parse("http://" + addr)
	rp := httputil.NewSingleHostReverseProxy(target)
	// The proxy keeps its connections to the server open, as the client's own would be
	// without it: Go's default transport keeps two idle per host and opens a new one
	// for each request beyond them, which charged a client with many requests in
	// flight (cairn reads a restore in runs of about 1 MiB, eight at a time) a TCP
	// connection per request that it never makes itself.
	rp.Transport = &http.Transport{Proxy: nil, MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute}
	m := &meter{next: rp}
	proxy := &http.Server{Handler: m}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Process.Kill()
		srv.Wait()
		return nil, err
	}
	go proxy.Serve(pl) // ends with proxy.Close in stop
	return &server{root: root, base: "http://" + pl.Addr().String(), meter: m, stop: func() {
		proxy.Close()
		srv.Process.Kill()
		srv.Wait()
	}}, nil
}

// A setup is one tool on one kind of repository.
type setup struct {
	peer
	where string // "" (a local folder), "rest-server" or "MinIO"
}

func (s setup) label() string {
	if s.where != "" {
		return s.name + " → " + s.where
	}
	return s.name
}

// The workloads of the peer table, in its order.
const (
	opInitial     = "initial backup"
	opIncremental = "incremental backup"
	opRestore     = "restore"
	opRestoreNew  = "restore, empty cache" // a new machine: nothing cached; through a server only
	opCheck       = "check --read-data"
)

var peerOps = []string{opInitial, opIncremental, opRestore, opRestoreNew, opCheck}

// runPeers measures initial and incremental backup, restore and check --read-data for
// cairn, restic, borg and kopia (when kopia is not "") on the same bytes (on a local
// repository, and for cairn and restic through one rest-server), rotating the order of the tools each run, then a size
// series of cairn alone, and prints medians and ratios.
func runPeers(cairn, restic, borg, kopia, restBin, minioBin string, size int64, runs int, series []int64, work string, seed int64) error {
	for _, p := range []*string{&cairn, &restic, &borg, &kopia, &restBin, &minioBin} {
		if strings.ContainsRune(*p, os.PathSeparator) {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return err
			}
			*p = abs
		}
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	begin := time.Now()
	db0, db1, src := filepath.Join(work, "db0"), filepath.Join(work, "db1"), filepath.Join(work, "src")
	gs, ms, err := generatePair(db0, db1, size, seed)
	if err != nil {
		return err
	}
	servers := map[string]*server{}
	rs, err := startRESTServer(restBin, filepath.Join(work, "rest"))
	if err != nil {
		return err
	}
	defer rs.stop()
	servers["rest-server"] = rs
	tools := peers(cairn, restic, borg, kopia)
	var setups []setup
	for _, t := range tools {
		setups = append(setups, setup{peer: t})
	}
	for _, t := range tools[:2] { // cairn and restic: borg and kopia cannot use rest-server
		setups = append(setups, setup{peer: t, where: "rest-server"})
	}
	if minioBin != "" {
		ms, err := startMinIO(minioBin, filepath.Join(work, "minio"))
		if err != nil {
			return err
		}
		defer ms.stop()
		servers["MinIO"] = ms
		setups = append(setups, setup{peer: tools[0], where: "MinIO"}) // cairn alone: the time budget
	}
	results := map[string]map[string][]sample{}
	for _, st := range setups {
		results[st.label()] = map[string][]sample{}
	}
	for run := 0; run < runs; run++ {
		for k := range setups {
			st := setups[(k+run)%len(setups)]
			twork := filepath.Join(work, fmt.Sprintf("%s-%d", st.name, run))
			repoDir := filepath.Join(twork, "repo")
			location := repoDir
			srv := servers[st.where]
			name := fmt.Sprintf("%s-%d", st.name, run)
			switch st.where {
			case "rest-server":
				repoDir = filepath.Join(srv.root, name)
				location = "rest:" + srv.base + "/" + name
			case "MinIO":
				repoDir = filepath.Join(srv.root, "bench", name)
				location = "s3:" + srv.base + "/bench/" + name
			default:
				srv = rs // counts nothing: no request goes through it
			}
			if err := os.MkdirAll(twork, 0o755); err != nil {
				return err
			}
			creds := []string{"AWS_ACCESS_KEY_ID=" + minioUser, "AWS_SECRET_ACCESS_KEY=" + minioSecret}
			env := append(st.env(location, twork), creds...)
			for _, args := range st.init(location) {
				if _, err := runCmd(args, env, twork); err != nil {
					return err
				}
			}
			measureWith := func(op string, args []string, dir string, env []string) error {
				before := dirSize(repoDir)
				s0, r0 := srv.meter.sent.Load(), srv.meter.received.Load()
				s, err := runCmd(args, env, dir)
				if err != nil {
					return err
				}
				s.stored = dirSize(repoDir) - before
				s.sent, s.received = srv.meter.sent.Load()-s0, srv.meter.received.Load()-r0
				results[st.label()][op] = append(results[st.label()][op], s)
				fmt.Fprintf(os.Stderr, "run %d %-22s %-20s %s\n", run+1, st.label(), op, s.wall.Round(time.Millisecond))
				return nil
			}
			measure := func(op string, args []string, dir string) error { return measureWith(op, args, dir, env) }
			// The same source path both times: the first state, then the changed one.
			if err := os.Rename(db0, src); err != nil {
				return err
			}
			err := measure(opInitial, st.backup(location, src, 1), twork)
			if e := os.Rename(src, db0); err == nil {
				err = e
			}
			if err != nil {
				return err
			}
			if err := os.Rename(db1, src); err != nil {
				return err
			}
			err = measure(opIncremental, st.backup(location, src, 2), twork)
			if e := os.Rename(src, db1); err == nil {
				err = e
			}
			if err != nil {
				return err
			}
			target := filepath.Join(twork, "restore")
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			if err := measure(opRestore, st.restore(location, src, target), target); err != nil {
				return err
			}
			if st.where != "" {
				// The same restore on a machine that never saw the repository: its index,
				// snapshots and chunk lists come over the link too.
				fresh := filepath.Join(twork, "fresh")
				if err := os.MkdirAll(fresh, 0o755); err != nil {
					return err
				}
				cold := append(st.env(location, fresh), creds...)
				if err := measureWith(opRestoreNew, st.restore(location, src, fresh), fresh, cold); err != nil {
					return err
				}
			}
			if err := measure(opCheck, st.check(location), twork); err != nil {
				return err
			}
			os.RemoveAll(twork)
			os.RemoveAll(repoDir)
		}
	}
	fmt.Printf("Database: %s in %d records (27 collection files); the incremental backup follows a 1%% change (changed records %s). %d runs per tool, order rotated each run; medians. rest-server v0.14.0 and MinIO on loopback, each behind a byte-counting proxy.%s\n\n",
		human(gs.Bytes), gs.Records, human(ms.ChangedBytes), runs, kopiaNote(kopia))
	printPeerTable(setups, results, ms.ChangedBytes)

	if len(series) > 0 {
		if err := runSeries(cairn, series, work, seed); err != nil {
			return err
		}
	}
	fmt.Printf("\nWhole run: %s.\n", time.Since(begin).Round(time.Second))
	return nil
}

func generatePair(db0, db1 string, size, seed int64) (gendb.Stats, gendb.MutationStats, error) {
	gs, err := gendb.Generate(db0, gendb.Options{Size: size, Seed: seed})
	if err != nil {
		return gs, gendb.MutationStats{}, err
	}
	if _, err := gendb.Generate(db1, gendb.Options{Size: size, Seed: seed}); err != nil {
		return gs, gendb.MutationStats{}, err
	}
	ms, err := gendb.Mutate(db1, gendb.Mutation{Fraction: 0.01, Seed: seed + 1})
	return gs, ms, err
}

// runSeries backs up databases of growing size with cairn: initial and incremental
// backup time, peak memory, index size in memory and new bytes.
func runSeries(cairn string, sizes []int64, work string, seed int64) error {
	fmt.Println("\nSize series, cairn alone, one run each (local repository):")
	fmt.Println()
	fmt.Println("| database | initial backup | peak RSS | stored | chunks | index in memory | incremental (1%) | peak RSS | new bytes stored | changed records |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, size := range sizes {
		dir := filepath.Join(work, "series")
		os.RemoveAll(dir)
		db0, db1, src := filepath.Join(dir, "db0"), filepath.Join(dir, "db1"), filepath.Join(dir, "src")
		gs, ms, err := generatePair(db0, db1, size, seed)
		if err != nil {
			return err
		}
		repoDir := filepath.Join(dir, "repo")
		env := []string{"CAIRN_REPOSITORY=" + repoDir, "CAIRN_PASSWORD=bench"}
		if _, err := runCmd([]string{cairn, "init"}, env, dir); err != nil {
			return err
		}
		var s [2]sample
		for i, db := range []string{db0, db1} {
			if err := os.Rename(db, src); err != nil {
				return err
			}
			before := dirSize(repoDir)
			s[i], err = runCmd([]string{cairn, "--no-progress", "backup", src}, env, dir)
			if err != nil {
				return err
			}
			s[i].stored = dirSize(repoDir) - before
			if err := os.RemoveAll(src); err != nil {
				return err
			}
		}
		cmd := exec.Command(cairn, "--json", "stats")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("cairn stats: %v", err)
		}
		var st struct {
			Chunks      int64 `json:"chunks"`
			IndexMemory int64 `json:"index_memory"`
		}
		if err := json.Unmarshal(out, &st); err != nil {
			return fmt.Errorf("cairn stats: %v", err)
		}
		fmt.Printf("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", human(gs.Bytes),
			s[0].wall.Round(time.Millisecond), human(s[0].rss), human(s[0].stored), st.Chunks, human(st.IndexMemory),
			s[1].wall.Round(time.Millisecond), human(s[1].rss), human(s[1].stored), human(ms.ChangedBytes))
		os.RemoveAll(dir)
	}
	return nil
}

func median(ss []sample, f func(sample) int64) int64 {
	if len(ss) == 0 {
		return 0
	}
	v := make([]int64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	return v[len(v)/2]
}
