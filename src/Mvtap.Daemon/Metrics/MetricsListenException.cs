// Thrown when the metrics endpoint cannot be served on the address given (in use, not an
// address of this host, not permitted): mvtapd says so and exits 1.
namespace Mvtap.Daemon.Metrics;

public sealed class MetricsListenException(string message) : Exception(message);
