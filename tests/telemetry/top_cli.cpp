// Test driver: `top_cli ENDPOINT [ITERATIONS]` runs telemetry::top_main as `seqwatch top`
// will (so tmux can drive it before the command is wired into the executable).
#include <cstdlib>

#include "telemetry/top.hpp"

int main(int argc, char** argv) {
  seqwatch::telemetry::TopOptions o;
  if (argc > 1) o.endpoint = argv[1];
  if (argc > 2) o.iterations = static_cast<unsigned>(std::atoi(argv[2]));
  return seqwatch::telemetry::top_main(o);
}
