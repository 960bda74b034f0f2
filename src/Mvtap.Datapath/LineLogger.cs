// An ILogger over a plain line writer, for a switch whose owner gave only an Action<string> (tests,
// tools): warnings and errors are marked as such, an error's exception follows its line.
using Microsoft.Extensions.Logging;

namespace Mvtap.Datapath;

internal sealed class LineLogger(Action<string> write) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        string line = formatter(state, exception);
        write(logLevel switch
        {
            >= LogLevel.Error => $"error: {line}{(exception is null ? "" : $"\n{exception}")}",
            LogLevel.Warning => $"warning: {line}",
            _ => line,
        });
    }
}
