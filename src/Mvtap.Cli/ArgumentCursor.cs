// Walks a command's words the way ip's argc/argv loop does: NextArg() moves to a keyword's
// value and fails with ip's "Command line is not complete" when there is none.
namespace Mvtap.Cli;

internal sealed class ArgumentCursor(IReadOnlyList<string> words)
{
    private int _position;

    public bool AtEnd => _position >= words.Count;
    public string Current => words[_position];

    public void Advance() => _position++;

    /// <summary>Moves to the next word and returns it (ip's NEXT_ARG).</summary>
    public string NextArg()
    {
        if (_position + 1 >= words.Count) throw UsageErrors.Incomplete();
        _position++;
        return words[_position];
    }

    /// <summary>The word after the current one, if any (ip's NEXT_ARG_OK).</summary>
    public bool TryPeekNext(out string next)
    {
        if (_position + 1 < words.Count) { next = words[_position + 1]; return true; }
        next = "";
        return false;
    }
}
