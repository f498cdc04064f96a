// The health report: component kinds, the overall state, subsets, and the
// state the migration facts amount to.
#include "stratum/health.hpp"

#include <algorithm>

namespace stratum {

std::string_view to_string(ComponentKind kind) noexcept
{
    switch (kind) {
    case ComponentKind::postgres:
        return "postgres";
    case ComponentKind::pool:
        return "pool";
    case ComponentKind::redis:
        return "redis";
    case ComponentKind::minio:
        return "minio";
    case ComponentKind::migrations:
        return "migrations";
    }
    return "postgres";
}

namespace {

int severity(HealthState state) noexcept
{
    switch (state) {
    case HealthState::up:
        return 0;
    case HealthState::degraded:
        return 1;
    case HealthState::down:
        return 2;
    }
    return 2;
}

}  // namespace

HealthState overall_state(const std::vector<ComponentHealth> &components) noexcept
{
    if (components.empty())
        return HealthState::down;
    HealthState worst = HealthState::up;
    bool optional_not_up = false;
    for (const ComponentHealth &component : components) {
        if (component.required) {
            if (severity(component.result.state) > severity(worst))
                worst = component.result.state;
        } else if (component.result.state != HealthState::up) {
            optional_not_up = true;
        }
    }
    // An optional component alone never takes the whole down: the service
    // still serves without a replica, Redis or MinIO, only less well.
    if (worst == HealthState::up && optional_not_up)
        return HealthState::degraded;
    return worst;
}

const ComponentHealth *HealthReport::find(std::string_view name) const noexcept
{
    for (const ComponentHealth &component : components)
        if (component.result.component == name)
            return &component;
    return nullptr;
}

bool HealthReport::any_down() const noexcept
{
    return std::any_of(components.begin(), components.end(), [](const ComponentHealth &c) {
        return c.result.state == HealthState::down;
    });
}

HealthReport HealthReport::only(std::initializer_list<ComponentKind> kinds) const
{
    HealthReport subset;
    subset.checked_at = checked_at;
    for (const ComponentHealth &component : components)
        if (std::find(kinds.begin(), kinds.end(), component.kind) != kinds.end())
            subset.components.push_back(component);
    subset.state = overall_state(subset.components);
    // A subset of optional components (migrations, say) answers for itself:
    // its worst state, not "degraded at most".
    if (!subset.components.empty() &&
        std::none_of(subset.components.begin(), subset.components.end(),
                     [](const ComponentHealth &c) { return c.required; })) {
        HealthState worst = HealthState::up;
        for (const ComponentHealth &component : subset.components)
            if (severity(component.result.state) > severity(worst))
                worst = component.result.state;
        subset.state = worst;
    }
    return subset;
}

HealthState migration_state(const MigrationFacts &facts) noexcept
{
    if (facts.drifted > 0 || !facts.problems.empty())
        return HealthState::down;
    if (facts.pending.value_or(0) > 0 || facts.out_of_order > 0 || facts.missing > 0 ||
        facts.unknown > 0 || !facts.invalid_indexes.empty())
        return HealthState::degraded;
    return HealthState::up;
}

}  // namespace stratum
