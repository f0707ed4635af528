package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Replicas of the natives build's llama-server (the patched tree, --deltakv flags) on the loopback address, each a
 * process serving kvtiny with DeltaKV memory through the OpenAI-compatible API. Stopped by close().
 */
final class LlamaServerReplicas implements AutoCloseable {

    private final List<Process> processes = new ArrayList<>();
    private final List<Integer> ports = new ArrayList<>();

    /** Starts {@code n} replicas with {@code args} after the port settings; returns once each answers /health. */
    static LlamaServerReplicas start(int n, Path logDir, List<String> args) throws Exception {
        Path program = NativeBuild.program("llama-server");
        LlamaServerReplicas replicas = new LlamaServerReplicas();
        try {
            for (int i = 0; i < n; i++) {
                replicas.startOne(program, logDir, args);
            }
        } catch (Exception | AssertionError e) {
            replicas.close();
            throw e;
        }
        return replicas;
    }

    List<Integer> ports() {
        return List.copyOf(ports);
    }

    /** Kills replica {@code i} at once (SIGKILL), as a crashed host. */
    void kill(int i) throws InterruptedException {
        processes.get(i).destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    /** Replica {@code i}'s Prometheus metrics (its /metrics page). */
    String metrics(int i) throws Exception {
        return get(ports.get(i), "/metrics").body();
    }

    private void startOne(Path program, Path logDir, List<String> args) throws Exception {
        int port = Loopback.freePort();
        List<String> command = new ArrayList<>(List.of(program.toString(), "--host", "127.0.0.1", "--port",
                Integer.toString(port)));
        command.addAll(args);
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(logDir.resolve("llama-server-" + port + ".log").toFile()).start();
        processes.add(p);
        ports.add(port);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                if (get(port, "/health").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            assertThat(p.isAlive()).as("llama-server on port %d runs (log in %s)", port, logDir).isTrue();
            assertThat(System.nanoTime()).as("llama-server on port %d is ready within 60 s", port).isLessThan(deadline);
            Thread.sleep(200);
        }
    }

    private static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : processes) {
            p.destroy();
        }
        for (Process p : processes) {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
