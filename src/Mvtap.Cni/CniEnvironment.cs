// The CNI parameters a runtime passes in the environment (SPEC.md section 2, "Parameters"),
// checked for the command at hand: ADD and CHECK need the container id, netns and ifname, DEL the
// id and ifname (its netns may be gone), GC the plugin path; a missing or malformed one is error 4
// naming the variable, as the spec asks.
namespace Mvtap.Cni;

internal sealed record CniEnvironment
{
    public static readonly string[] Commands = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"];

    public string Command { get; init; } = "";
    public string ContainerId { get; init; } = "";
    public string? Netns { get; init; }
    public string IfName { get; init; } = "";
    public string Args { get; init; } = "";
    public string[] Path { get; init; } = [];

    /// <summary>MAC=... from CNI_ARGS ("K=V;K=V"); other keys (IgnoreUnknown, K8S_POD_NAME, ...) are not ours.</summary>
    public string? MacArgument()
    {
        string? mac = null;
        foreach (var pair in Args.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0) throw new CniError(CniError.InvalidEnvironment, "invalid CNI_ARGS", $"CNI_ARGS pair \"{pair}\" is not KEY=VALUE");
            if (pair[..eq] == "MAC") mac = pair[(eq + 1)..];
        }
        return mac;
    }

    public static CniEnvironment Read(Func<string, string?> getenv)
    {
        string command = getenv("CNI_COMMAND") ?? "";
        if (command.Length == 0) throw new CniError(CniError.InvalidEnvironment, "required env variables [CNI_COMMAND] missing");
        if (Array.IndexOf(Commands, command) < 0)
            throw new CniError(CniError.InvalidEnvironment, $"unknown CNI_COMMAND: {command}", "CNI_COMMAND must be one of " + string.Join(", ", Commands));
        var env = new CniEnvironment
        {
            Command = command,
            ContainerId = getenv("CNI_CONTAINERID") ?? "",
            Netns = string.IsNullOrEmpty(getenv("CNI_NETNS")) ? null : getenv("CNI_NETNS"),
            IfName = getenv("CNI_IFNAME") ?? "",
            Args = getenv("CNI_ARGS") ?? "",
            Path = (getenv("CNI_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries),
        };
        var missing = new List<string>();
        bool attachment = command is "ADD" or "DEL" or "CHECK";
        if (attachment && env.ContainerId.Length == 0) missing.Add("CNI_CONTAINERID");
        if (command is "ADD" or "CHECK" && env.Netns is null) missing.Add("CNI_NETNS");
        if (attachment && env.IfName.Length == 0) missing.Add("CNI_IFNAME");
        if ((attachment || command == "GC") && env.Path.Length == 0) missing.Add("CNI_PATH");
        if (missing.Count > 0)
            throw new CniError(CniError.InvalidEnvironment, $"required env variables [{string.Join(",", missing)}] missing");
        if (attachment)
        {
            if (!ValidContainerId(env.ContainerId))
                throw new CniError(CniError.InvalidEnvironment, "invalid CNI_CONTAINERID",
                    "CNI_CONTAINERID must start with a letter or digit, followed by letters, digits, '_', '.' or '-'");
            if (!Mvtap.Control.InterfaceNames.IsValid(env.IfName))
                throw new CniError(CniError.InvalidEnvironment, "invalid CNI_IFNAME",
                    $"CNI_IFNAME: {Mvtap.Control.InterfaceNames.Refusal(env.IfName, "ifname")}");
        }
        return env;
    }

    public static bool ValidContainerId(string id) =>
        id.Length > 0 && char.IsAsciiLetterOrDigit(id[0]) && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');
}
