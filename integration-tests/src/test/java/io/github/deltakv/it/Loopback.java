package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.TimeUnit;

/** Servers the tests start on the loopback address: a free port for one, and waiting until it accepts connections. */
final class Loopback {

    private Loopback() {
    }

    /** A port free on the loopback address now. */
    static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }

    /** Returns once {@code process} accepts connections on {@code port}; fails if it exits or takes too long. */
    static void awaitListening(Process process, int port, int seconds, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return;
            } catch (IOException notYet) {
                assertThat(process.isAlive()).as("%s on port %d runs", what, port).isTrue();
                assertThat(System.nanoTime()).as("%s listens on port %d within %d s", what, port, seconds)
                        .isLessThan(deadline);
                Thread.sleep(100);
            }
        }
    }
}
