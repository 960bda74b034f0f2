// mvtap's own `vhost-user { listen [ PATH ] | connect PATH }` of `link add` (matched whole, as
// guestmem is, so that it never takes a device's name): whether mvtapd listens for the frontend
// (the default, on <run-dir>/tapN.vhost or PATH) or dials the frontend's socket PATH and dials
// again after each drop. Fixed at creation, like `link`.
using Mvtap.Control;

namespace Mvtap.Cli;

internal static class VhostUserArgument
{
    public const string Keyword = "vhost-user";

    public static void Parse(ArgumentCursor c, LinkSettings s, bool creating)
    {
        string mode = c.NextArg();
        if (!creating) throw UsageErrors.InvalidArgument(mode, "the vhost-user role of an endpoint cannot be changed");
        if (s.VhostUserMode is not null) throw UsageErrors.Duplicate(Keyword, mode);
        if (!VhostUserModes.IsKnown(mode)) throw UsageErrors.ArgumentMustBeOneOf(Keyword, VhostUserModes.All, mode);
        s.VhostUserMode = mode;
        // listen's PATH is optional: only an absolute path is taken as one
        if (mode == VhostUserModes.Listen && !(c.TryPeekNext(out var next) && next.StartsWith('/'))) return;
        string path = c.NextArg();
        if (!path.StartsWith('/'))
            throw UsageErrors.InvalidArgument(path, $"\"{Keyword} {mode}\" takes an absolute socket path");
        s.VhostUserPath = path;
    }
}
