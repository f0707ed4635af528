package io.github.deltakv.langchain4j.spring;

import io.github.deltakv.langchain4j.DeltaKvEngine;

import org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * With Spring Boot Actuator on the class path and a {@link DeltaKvEngine} bean: the engine's
 * {@link DeltaKvHealthIndicator}, the {@code deltaKv} health contributor ({@code management.health.deltakv.enabled=false}
 * turns it off). Apart from {@link DeltaKvAutoConfig} so that its Actuator conditions are read only with Actuator.
 */
@AutoConfiguration(after = DeltaKvAutoConfig.class)
@ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
@ConditionalOnBean(DeltaKvEngine.class)
public class DeltaKvHealthAutoConfig {

    @Bean
    @ConditionalOnMissingBean(name = "deltaKvHealthIndicator")
    @ConditionalOnEnabledHealthIndicator("deltakv")
    DeltaKvHealthIndicator deltaKvHealthIndicator(DeltaKvEngine engine) {
        return new DeltaKvHealthIndicator(engine);
    }
}
