package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// What Linux reports in /proc about the processes under test and the
// machine. All of it is read, nothing is changed, except resetHWM.

// userHZ is the unit of CPU times in /proc (USER_HZ, fixed at 100 on the
// architectures Linux reports to user space with).
const userHZ = 100

// statusKB reads a "kB" field (VmRSS, VmHWM) of /proc/PID/status.
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// resetHWM resets the process's peak RSS (VmHWM) to its current RSS
// (Linux ≥ 4.0, "5" in clear_refs), so a phase's peak is its own.
func resetHWM(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// countFDs counts the process's open file descriptors.
func countFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

// procStat is the part of /proc/PID/stat the bench uses.
type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime uint64 // clock ticks
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var s procStat
	var errs []error
	num := func(k int) uint64 { // k is the field number in proc(5)
		v, err := strconv.ParseUint(f[k-3], 10, 64)
		errs = append(errs, err)
		return v
	}
	s.ppid = int(num(4))
	s.utime, s.stime, s.cutime, s.cstime = num(14), num(15), num(16), num(17)
	return s, errors.Join(errs...)
}

// component is a process whose CPU time is accounted separately; tree
// adds its children (PostgreSQL's backends).
type component struct {
	name string
	pid  int
	tree bool
}

// ticks is the CPU time the component has used so far: the process, the
// children it has reaped and, for a tree, its live children.
func (c component) ticks() (uint64, error) {
	s, err := readProcStat(c.pid)
	if err != nil {
		return 0, err
	}
	t := s.utime + s.stime
	if !c.tree {
		return t, nil
	}
	t += s.cutime + s.cstime
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == c.pid {
			continue
		}
		cs, err := readProcStat(pid)
		if err != nil || cs.ppid != c.pid {
			continue // gone, or not a child
		}
		t += cs.utime + cs.stime
	}
	return t, nil
}

// machineTicks is the first line of /proc/stat: all CPUs together.
type machineTicks struct{ busy, iowait, total uint64 }

func readMachineTicks() (machineTicks, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return machineTicks{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return machineTicks{}, errors.New("/proc/stat is empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return machineTicks{}, fmt.Errorf("/proc/stat: unexpected first line %q", sc.Text())
	}
	// user nice system idle iowait irq softirq steal (guest time is
	// already inside user and nice).
	var v [8]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(fields[i+1], 10, 64); err != nil {
			return machineTicks{}, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	m := machineTicks{iowait: v[4]}
	for _, x := range v {
		m.total += x
	}
	m.busy = m.total - v[3] - v[4]
	return m, nil
}

// Machine describes where the numbers were measured.
type Machine struct {
	CPUModel    string `json:"cpu_model"`
	NProc       int    `json:"nproc"`
	MemTotalKiB int64  `json:"mem_total_kib"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
}

func describeMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.MemTotalKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// fsTypeOf returns the type of the file system holding path, from the
// longest matching mount point in /proc/self/mounts.
func fsTypeOf(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "unknown"
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "unknown"
	}
	best, typ := -1, "unknown"
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, typ = len(mp), f[2]+" on "+f[0]
		}
	}
	return typ
}

// isKthreadd says whether pid is the kernel's thread creator, the parent
// of every kernel thread.
func isKthreadd(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(b)) == "kthreadd"
}

// fdKinds counts the process's open descriptors by what they are: files
// (by the name of their directory: data/ holds SQLite's files, spool/ the
// uploads being received), pipes, kernel objects (epoll, eventfd), and TCP
// sockets labelled by the port at the other end (peers), or as incoming
// when their local port is the server's (serverPort).
func fdKinds(pid, serverPort int, peers map[int]string) (map[string]int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	socks := tcpSockets(pid)
	out := map[string]int{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		kind := "files in " + filepath.Base(filepath.Dir(target)) + "/"
		switch {
		case strings.HasPrefix(target, "socket:["):
			inode := strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")
			s, ok := socks[inode]
			switch {
			case !ok:
				kind = "other sockets"
			case s.listening:
				kind = "listening sockets"
			case s.local == serverPort:
				kind = "incoming connections"
			case peers[s.remote] != "":
				kind = "connections to " + peers[s.remote]
			default:
				kind = fmt.Sprintf("connections to port %d", s.remote)
			}
		case strings.HasPrefix(target, "pipe:"):
			kind = "pipes"
		case strings.HasPrefix(target, "anon_inode:"):
			kind = "epoll/eventfd"
		}
		out[kind]++
	}
	return out, nil
}

type tcpSocket struct {
	local, remote int
	listening     bool
}

// tcpSockets maps socket inodes to ports, from the process's view of
// /proc/net/tcp and tcp6.
func tcpSockets(pid int) map[string]tcpSocket {
	out := map[string]tcpSocket{}
	for _, name := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, name))
		if err != nil {
			continue
		}
		for i, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if i == 0 || len(f) < 10 {
				continue
			}
			out[f[9]] = tcpSocket{local: hexPort(f[1]), remote: hexPort(f[2]), listening: f[3] == "0A"}
		}
	}
	return out
}

// hexPort takes the port of an address such as "0100007F:1F90".
func hexPort(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	v, _ := strconv.ParseUint(p, 16, 16)
	return int(v)
}
