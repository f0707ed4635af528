package io.github.deltakv.it;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * ggml-rpc-server processes of the native build on the loopback address, each serving this machine's CPU as one
 * device: several devices for a model's layers on a machine without GPUs. Stopped by close().
 */
final class RpcServers implements AutoCloseable {

    private final List<Process> processes = new ArrayList<>();
    private final List<String> endpoints = new ArrayList<>();

    /** Starts {@code n} servers with one thread each, logging to {@code logDir}; returns once each accepts connections. */
    static RpcServers start(int n, Path logDir) throws Exception {
        Path program = NativeBuild.program("ggml-rpc-server");
        RpcServers servers = new RpcServers();
        try {
            for (int i = 0; i < n; i++) {
                servers.startOne(program, logDir);
            }
        } catch (Exception | AssertionError e) {
            servers.close();
            throw e;
        }
        return servers;
    }

    /** "127.0.0.1:port" of each server. */
    List<String> endpoints() {
        return List.copyOf(endpoints);
    }

    private void startOne(Path program, Path logDir) throws Exception {
        int port = Loopback.freePort();
        Process p = new ProcessBuilder(program.toString(), "-H", "127.0.0.1", "-p", Integer.toString(port), "-t", "1")
                .redirectErrorStream(true).redirectOutput(logDir.resolve("rpc-" + port + ".log").toFile()).start();
        processes.add(p);
        Loopback.awaitListening(p, port, 30, "ggml-rpc-server");
        endpoints.add("127.0.0.1:" + port);
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : processes) {
            p.destroy();
        }
        for (Process p : processes) {
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
