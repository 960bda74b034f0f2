// iproute2's keyword matching: matches() accepts any non-empty prefix of the keyword, so "l"
// is "link" and "a" is "add"; ambiguity is settled by the order in which callers test keywords,
// which the parsers keep identical to ip's for the keywords mvtap has.
namespace Mvtap.Cli;

internal static class Keyword
{
    /// <summary>ip's matches(): true if typed is a non-empty prefix of keyword.</summary>
    public static bool Matches(string typed, string keyword) =>
        typed.Length > 0 && keyword.StartsWith(typed, StringComparison.Ordinal);
}
