#pragma once
// Environment lookups go through a function so tests can supply their own variables
// instead of changing the process environment.

#include <functional>
#include <optional>
#include <string>

namespace popfs::app {

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Reads the real process environment (getenv). Empty values count as unset.
EnvLookup process_environment();

// $HOME, else the passwd entry of the current user, else "/".
std::string home_directory(const EnvLookup& env);

// "~" and "~/..." become paths under home_directory(); anything else is returned unchanged.
std::string expand_home(const std::string& path, const EnvLookup& env);

}  // namespace popfs::app
