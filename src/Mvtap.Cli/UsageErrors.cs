// The messages ip prints for a bad command line (lib/utils.c: invarg, duparg, duparg2,
// incomplete_command, ...), reproduced word for word so that mvtap reads like ip.
using Mvtap.Control;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;

namespace Mvtap.Cli;

internal static class UsageErrors
{
    public static CommandLineException Incomplete() =>
        new("Command line is not complete. Try option \"help\"");

    public static CommandLineException InvalidArgument(string arg, string why) =>
        new($"Error: argument \"{arg}\" is wrong: {why}");

    public static CommandLineException Duplicate(string keyword, string arg) =>
        new($"Error: duplicate \"{keyword}\": \"{arg}\" is the second value.");

    public static CommandLineException DuplicateOrGarbage(string keyword, string arg) =>
        new($"Error: either \"{keyword}\" is duplicate, or \"{arg}\" is a garbage.");

    public static CommandLineException Required(string keyword) => new($"{ControlRequest.NotGiven(keyword)}.");

    public static CommandLineException ArgumentMustBe(string keyword, string choices, string arg) =>
        new($"Error: argument of \"{keyword}\" must be {choices}, not \"{arg}\"");

    /// <summary>ArgumentMustBe with the choices listed as ip lists them: "a", "b" or "c".</summary>
    public static CommandLineException ArgumentMustBeOneOf(string keyword, IReadOnlyList<string> words, string arg) =>
        ArgumentMustBe(keyword, string.Join(", ", words.Take(words.Count - 1).Select(w => $"\"{w}\"")) + $" or \"{words[^1]}\"", arg);

    /// <summary>A `type` that mvtap does not make.</summary>
    public static CommandLineException UnknownType(string arg) =>
        new($"Error: Unknown device type \"{arg}\"; mvtap makes \"{LinkWords.Macvtap}\" and \"{LinkWords.Macvlan}\" links.");

    public static CommandLineException InvalidLladdr(string arg) => new($"\"{arg}\" is invalid lladdr.");

    /// <summary>The kernel answers EADDRNOTAVAIL for these; we refuse them before asking anyone.</summary>
    public static CommandLineException NotUnicast(MacAddress mac) =>
        new($"Error: address {mac} is {(mac.IsZero ? "all zeros" : "multicast")}, not a unicast address: Cannot assign requested address.");

    public static CommandLineException UnknownOption(string type, string arg) =>
        new($"{type}: unknown option \"{arg}\"?");

    public static CommandLineException UnknownCommand(string word, string helpCommand) =>
        new($"Command \"{word}\" is unknown, try \"{helpCommand}\".");
}
