package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/redis/go-redis/v9"
)

// ClusterEnv names a running Redis Cluster for the tests, as a KAIROS_REDIS_URL
// (redis://host:port?addr=host:port&addr=…). Without it the first test that
// needs a cluster starts one of its own.
const ClusterEnv = "KAIROS_TEST_REDIS_CLUSTER"

// Ports of the clusters tests start: client ports in [clusterPortLo,
// clusterPortHi), cluster bus ports clusterBusOffset above them, all inside the
// 17000-17999 range set aside for local clusters.
const (
	clusterPortLo    = 17100
	clusterPortHi    = 17490
	clusterBusOffset = 500
	clusterMasters   = 3
)

// errNoServer is returned when redis-server is not installed.
var errNoServer = errors.New("redis-server is not installed (apt-get install redis-server), and " + ClusterEnv + " is not set")

var cluster struct {
	once sync.Once
	url  string
	err  error
}

// ClusterURL returns the URL of a Redis Cluster with three masters: the one
// named by KAIROS_TEST_REDIS_CLUSTER, else one started for this test binary
// on loopback ports (killed when the binary exits). A test is skipped when
// neither can be had, and fails instead when CI is set.
func ClusterURL(t testing.TB) string {
	t.Helper()
	cluster.once.Do(func() {
		if u := os.Getenv(ClusterEnv); u != "" {
			cluster.url = u
			return
		}
		cluster.url, cluster.err = startCluster()
	})
	if cluster.err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("a Redis Cluster is required: %v", cluster.err)
		}
		t.Skipf("needs a Redis Cluster: %v", cluster.err)
	}
	return cluster.url
}

// OpenCluster returns a cluster client (see ClusterURL) with a fresh key
// prefix; the test's keys are deleted from every master when it ends.
func OpenCluster(t testing.TB) *storage.Redis {
	t.Helper()
	url := ClusterURL(t)
	prefix := testPrefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := storage.Open(ctx, storage.Config{URL: url, Prefix: prefix})
	if err != nil {
		t.Fatalf("open cluster %s: %v", url, err)
	}
	if !r.Cluster {
		r.Close()
		t.Fatalf("%s opened a single-node client, not a cluster client", url)
	}
	t.Cleanup(func() {
		defer r.Close()
		cc := r.Client.(*redis.ClusterClient)
		_ = cc.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
			deleteKeys(ctx, n, prefix)
			return nil
		})
	})
	return r
}

// startCluster starts three redis-server masters on free loopback ports,
// splits the slots between them and waits until every node reports the
// cluster healthy. The processes die with this test binary.
func startCluster() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errNoServer
	}
	removeStaleDirs()
	dir, err := os.MkdirTemp("", "kairos-test-cluster-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", err
	}
	var lastErr error
	for range 5 {
		base := clusterPortLo + rand.IntN((clusterPortHi-clusterPortLo)/clusterMasters)*clusterMasters
		ports := make([]int, clusterMasters)
		for i := range ports {
			ports[i] = base + i
		}
		if !portsFree(ports) {
			continue
		}
		url, err := launch(bin, dir, ports)
		if err == nil {
			return url, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("no free ports")
	}
	return "", fmt.Errorf("start a local Redis Cluster (logs in %s): %w", dir, lastErr)
}

// launch starts the nodes from a goroutine locked to its OS thread that never
// exits, so that Pdeathsig (sent when the starting thread dies) fires only
// when the test binary does.
func launch(bin, dir string, ports []int) (string, error) {
	type result struct {
		url string
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		url, err := launchNodes(bin, dir, ports)
		done <- result{url, err}
		select {} // keep the thread, and with it the nodes, alive
	}()
	r := <-done
	return r.url, r.err
}

func launchNodes(bin, dir string, ports []int) (string, error) {
	var procs []*exec.Cmd
	kill := func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}
	for _, p := range ports {
		nodeDir := filepath.Join(dir, strconv.Itoa(p))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			kill()
			return "", err
		}
		cmd := exec.Command(bin, "--port", strconv.Itoa(p), "--cluster-port", strconv.Itoa(p+clusterBusOffset),
			"--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no",
			"--dir", nodeDir, "--save", "", "--appendonly", "no", "--logfile", filepath.Join(nodeDir, "redis.log"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			kill()
			return "", err
		}
		procs = append(procs, cmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := formCluster(ctx, ports); err != nil {
		kill()
		return "", err
	}
	addrs := make([]string, len(ports)-1)
	for i, p := range ports[1:] {
		addrs[i] = "addr=127.0.0.1:" + strconv.Itoa(p)
	}
	return "redis://127.0.0.1:" + strconv.Itoa(ports[0]) + "?" + strings.Join(addrs, "&"), nil
}

// formCluster gives each node an equal share of the slots, introduces them to
// each other and waits until every node sees the whole cluster healthy.
func formCluster(ctx context.Context, ports []int) error {
	nodes := make([]*redis.Client, len(ports))
	for i, p := range ports {
		nodes[i] = redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(p), MaxRetries: -1})
		defer nodes[i].Close()
	}
	for i, n := range nodes {
		if err := waitPing(ctx, n); err != nil {
			return fmt.Errorf("node %d: %w", ports[i], err)
		}
		lo, hi := i*16384/len(nodes), (i+1)*16384/len(nodes)-1
		if err := n.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return fmt.Errorf("node %d: add slots: %w", ports[i], err)
		}
	}
	for _, p := range ports[1:] {
		if err := nodes[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", p, p+clusterBusOffset).Err(); err != nil {
			return fmt.Errorf("cluster meet %d: %w", p, err)
		}
	}
	for {
		healthy := true
		for _, n := range nodes {
			info, err := n.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(nodes))+"\r") ||
				!strings.Contains(info, "cluster_slots_ok:16384") {
				healthy = false
				break
			}
		}
		if healthy {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster did not become healthy: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func waitPing(ctx context.Context, c *redis.Client) error {
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// portsFree reports whether each port and its cluster bus port can be bound.
func portsFree(ports []int) bool {
	for _, p := range ports {
		for _, q := range []int{p, p + clusterBusOffset} {
			ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(q))
			if err != nil {
				return false
			}
			ln.Close()
		}
	}
	return true
}

// removeStaleDirs deletes the folders of clusters whose test binary is gone.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "kairos-test-cluster-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || syscall.Kill(pid, 0) == nil {
			continue
		}
		os.RemoveAll(d)
	}
}

// CheckSpread fails t unless every master of the cluster r holds keys
// matching pattern.
func CheckSpread(t testing.TB, r *storage.Redis, pattern string) {
	t.Helper()
	var mu sync.Mutex
	perMaster := map[string]int{}
	err := r.Client.(*redis.ClusterClient).ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
		keys, err := n.Keys(ctx, pattern).Result()
		mu.Lock()
		perMaster[n.Options().Addr] = len(keys)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatalf("count keys per master: %v", err)
	}
	for addr, n := range perMaster {
		if n == 0 || len(perMaster) != clusterMasters {
			t.Fatalf("keys %s per master: %v (none on %s); want some on each of %d", pattern, perMaster, addr, clusterMasters)
		}
	}
}
