package io.github.deltakv.langchain4j.spring;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.TreeMap;

/** The starter's META-INF/spring-configuration-metadata.json, as spring-boot-configuration-processor wrote it. */
final class GeneratedMetadata {

    private static final String RESOURCE = "/META-INF/spring-configuration-metadata.json";

    private GeneratedMetadata() {
    }

    /** The whole document. */
    static JsonNode read() {
        try (InputStream in = GeneratedMetadata.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " was not generated");
            }
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Each property by its full name, e.g. {@code langchain4j.deltakv.chat-model.context-size}. */
    static Map<String, JsonNode> properties() {
        Map<String, JsonNode> byName = new TreeMap<>();
        read().path("properties").forEach(p -> byName.put(p.path("name").asText(), p));
        return byName;
    }

    /** A Java name as a property name, as Spring Boot writes it: a dash before each capital ({@code topKFraction} is {@code top-k-fraction}). */
    static String dashed(String javaName) {
        return javaName.replaceAll("(?<=.)([A-Z])", "-$1").toLowerCase();
    }
}
