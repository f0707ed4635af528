package io.github.deltakv.langchain4j.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

/**
 * Every setting of the provider's builders has a {@code langchain4j.deltakv.*} property in the generated metadata:
 * a setting added to a builder fails this test until the starter exposes it (or it is listed below as not a
 * property, with the reason).
 */
class BuilderCoverageTest {

    /** Builder settings that take objects, not values: the starter fills them from beans or from other properties. */
    private static final Set<String> NOT_PROPERTIES = Set.of(
            "engine",                   // the DeltaKvEngine bean the chat models share
            "progressListener",         // a DeltaKvEngine.ProgressListener bean
            "listeners",                // the ChatModelListener beans
            "defaultRequestParameters", // an object of the request settings that are properties one by one
            "deltaKv",                  // a DeltaKvConfig: its builder's settings are the delta-kv.* properties
            "kvEviction");              // (sinkTokens, recentTokens): the kv-eviction.* properties below

    /** Settings whose properties the method's name does not give. */
    private static final Map<String, List<String>> RENAMED = Map.of(
            "kvEviction", List.of("kv-eviction.sink-tokens", "kv-eviction.recent-tokens"));

    @Test
    void every_builder_setting_has_a_property() {
        Set<String> expected = new TreeSet<>();
        expected.addAll(properties("chat-model", DeltaKvEngine.Builder.class));
        expected.addAll(properties("chat-model", DeltaKvChatModel.Builder.class));
        expected.addAll(properties("chat-model", DeltaKvStreamingChatModel.Builder.class));
        expected.addAll(properties("delta-kv", DeltaKvConfig.Builder.class));
        RENAMED.values().forEach(names -> names.forEach(name -> expected.add(DeltaKvProperties.PREFIX + "." + name)));

        assertThat(GeneratedMetadata.properties().keySet()).containsAll(expected);
    }

    @Test
    void the_exclusions_name_real_builder_settings() {
        Set<String> settings = new TreeSet<>();
        for (Class<?> builder : List.of(DeltaKvEngine.Builder.class, DeltaKvChatModel.Builder.class,
                DeltaKvConfig.Builder.class)) {
            settings.addAll(settings(builder));
        }
        assertThat(settings).containsAll(NOT_PROPERTIES).containsAll(RENAMED.keySet());
    }

    /** The property each setting of {@code builder} maps to under {@code group}, less the exclusions. */
    private static Set<String> properties(String group, Class<?> builder) {
        Set<String> names = new TreeSet<>();
        settings(builder).stream().filter(s -> !NOT_PROPERTIES.contains(s))
                .forEach(s -> names.add(DeltaKvProperties.PREFIX + "." + group + "." + GeneratedMetadata.dashed(s)));
        return names;
    }

    /** The names of the builder's public methods that take values and return the builder: its settings. */
    private static Set<String> settings(Class<?> builder) {
        Set<String> names = new TreeSet<>();
        Arrays.stream(builder.getMethods())
                .filter(m -> !Modifier.isStatic(m.getModifiers()) && m.getParameterCount() > 0)
                .filter(m -> m.getReturnType().isAssignableFrom(builder))
                .map(Method::getName)
                .forEach(names::add);
        assertThat(names).as("settings of " + builder.getName()).isNotEmpty();
        return names;
    }
}
