package io.github.deltakv.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * HAProxy (the distribution's package) in front of llama-server replicas on the loopback address, with the
 * configuration of docs/scale-out.md: a conversation's requests go to one replica by a consistent hash of its
 * {@value #CONVERSATION_HEADER} header, so its compressed history stays where it was computed; a replica that fails
 * its health check leaves the ring and its conversations move to another. Stopped by close().
 */
final class HaproxyBalancer implements AutoCloseable {

    static final String CONVERSATION_HEADER = "X-Conversation-Id";

    private static final Path HAPROXY = Path.of("/usr/sbin/haproxy");

    private final Process process;
    private final int port;

    private HaproxyBalancer(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** Starts HAProxy for the replicas' ports, with the repository's configuration; skips when it is not installed. */
    static HaproxyBalancer start(List<Integer> replicaPorts, Path dir) throws Exception {
        assumeTrue(Files.isExecutable(HAPROXY), "HAProxy is not installed (apt-get install haproxy)");
        int port = Loopback.freePort();
        StringBuilder servers = new StringBuilder();
        for (int i = 0; i < replicaPorts.size(); i++) {
            servers.append("    server replica").append(i + 1).append(" 127.0.0.1:").append(replicaPorts.get(i))
                    .append(" check\n");
        }
        String template = Files.readString(Path.of("..", "deploy", "haproxy.cfg"));
        String config = template.replace("127.0.0.1:8080", "127.0.0.1:" + port)
                .replaceAll("(?m)^    server replica.*\\n", "")
                .replace("    # the replicas\n", "    # the replicas\n" + servers);
        Path file = dir.resolve("haproxy.cfg");
        Files.writeString(file, config);
        Process p = new ProcessBuilder(HAPROXY.toString(), "-db", "-f", file.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("haproxy.log").toFile()).start();
        Loopback.awaitListening(p, port, 20, "haproxy (log in " + dir + ")");
        return new HaproxyBalancer(p, port);
    }

    /** The OpenAI-compatible base URL of the balanced service. */
    String baseUrl() {
        return "http://127.0.0.1:" + port + "/v1";
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        process.waitFor(10, TimeUnit.SECONDS);
    }
}
