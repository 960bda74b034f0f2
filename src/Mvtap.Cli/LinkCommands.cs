// What `mvtap link ...` parses into: one record per command, carrying the control request the
// backend carries out (or, for show, the filters applied to what the backend returns).
using Mvtap.Control;

namespace Mvtap.Cli;

internal abstract record LinkCommand;

internal sealed record LinkAddCommand(LinkAddRequest Request) : LinkCommand;

internal sealed record LinkSetCommand(LinkSetRequest Request) : LinkCommand;

internal sealed record LinkDelCommand(LinkDelRequest Request) : LinkCommand;

/// <summary>`link show [NAME] [up] [type TYPE]`.</summary>
internal sealed record LinkShowCommand(string? Name, bool UpOnly = false, string? Type = null) : LinkCommand;

/// <summary>`link help` (or `help` anywhere in a link command).</summary>
internal sealed record LinkHelpCommand : LinkCommand;
