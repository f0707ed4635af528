package io.github.deltakv.langchain4j.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatRequestParameters;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

/** The generated META-INF/spring-configuration-metadata.json: every property, described, with the real defaults. */
class ConfigurationMetadataTest {

    private static final Map<String, Class<?>> GROUPS = Map.of(
            "chat-model", ChatModelProperties.class,
            "delta-kv", DeltaKvConfigProperties.class,
            "kv-eviction", KvEvictionProperties.class);

    private final Map<String, JsonNode> properties = GeneratedMetadata.properties();

    @Test
    void lists_every_property_with_a_description() {
        assertThat(properties.keySet()).isEqualTo(propertyNames());
        properties.forEach((name, property) ->
                assertThat(property.path("description").asText()).as(name).isNotBlank().endsWith("."));
    }

    @Test
    void documented_defaults_are_those_of_the_builders() {
        assertThat(defaultOf("chat-model.context-size")).isEqualTo("4096");
        assertThat(defaultOf("chat-model.max-sequences")).isEqualTo("4");
        assertThat(defaultOf("chat-model.batch-size")).isEqualTo("512");
        try (DeltaKvChatModel model = DeltaKvChatModel.builder().modelPath(TestModel.KVTINY).contextSize(256)
                .threads(2).build()) {
            DeltaKvChatRequestParameters p = model.defaultRequestParameters();
            assertThat(Double.valueOf(defaultOf("chat-model.temperature"))).isEqualTo(p.temperature());
            assertThat(Integer.valueOf(defaultOf("chat-model.top-k"))).isEqualTo(p.topK());
            assertThat(Double.valueOf(defaultOf("chat-model.top-p"))).isEqualTo(p.topP());
            assertThat(Double.valueOf(defaultOf("chat-model.min-p"))).isEqualTo(p.minP());
            assertThat(Double.valueOf(defaultOf("chat-model.repeat-penalty"))).isEqualTo(p.repeatPenalty());
            assertThat(Integer.valueOf(defaultOf("chat-model.repeat-last-n"))).isEqualTo(p.repeatLastN());
        }
    }

    @Test
    void defaults_that_depend_on_the_model_or_side_file_are_described_not_given() {
        for (String name : Set.of("chat-model.prefix-cache-bytes", "chat-model.threads", "delta-kv.top-k",
                "delta-kv.top-k-fraction")) {
            JsonNode property = properties.get(DeltaKvProperties.PREFIX + "." + name);
            assertThat(property.has("defaultValue")).as(name).isFalse();
            assertThat(property.path("description").asText()).as(name).contains("default");
        }
    }

    @Test
    void kv_cache_type_lists_its_values() {
        JsonNode hint = GeneratedMetadata.read().path("hints").findParent("name");
        assertThat(hint.path("name").asText()).isEqualTo(DeltaKvProperties.PREFIX + ".chat-model.kv-cache-type");
        assertThat(hint.path("values").findValuesAsText("value"))
                .containsExactly("f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0");
    }

    private String defaultOf(String property) {
        return properties.get(DeltaKvProperties.PREFIX + "." + property).path("defaultValue").asText();
    }

    /** The names the property classes' fields give, as Spring Boot binds them. */
    private static Set<String> propertyNames() {
        Set<String> names = new TreeSet<>();
        GROUPS.forEach((group, type) -> Arrays.stream(type.getDeclaredFields())
                .filter(f -> !Modifier.isStatic(f.getModifiers()))
                .map(Field::getName)
                .forEach(field -> names.add(DeltaKvProperties.PREFIX + "." + group + "." + GeneratedMetadata.dashed(field))));
        return names;
    }
}
