// The spec 7 setup: lower L, endpoints P (private), V and V2 (vepa), B and B2 (bridge),
// S (source), all up, on a simulated lower; helpers to inject and to read who received.
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Core.Sim;

namespace Mvtap.Core.Tests;

internal sealed class SpecLab
{
    public readonly SimNetwork Net;
    public readonly Dictionary<string, SimStation> Ep = [];
    public Port Port => Net.Port;
    public MacAddress LM => Net.Port.Lower.Mac;

    public SpecLab(bool hairpin = false, bool lowerFiltersUnicast = true, params (string name, EndpointMode mode)[] endpoints)
    {
        Net = new SimNetwork(hairpin, lowerFiltersUnicast: lowerFiltersUnicast);
        Net.AddExternalHost("ext", Frames.Ext);
        if (endpoints.Length == 0)
            endpoints = [("P", EndpointMode.Private), ("V", EndpointMode.Vepa), ("V2", EndpointMode.Vepa),
                         ("B", EndpointMode.Bridge), ("B2", EndpointMode.Bridge), ("S", EndpointMode.Source)];
        byte i = 1;
        foreach (var (name, mode) in endpoints)
            Ep[name] = Net.AddEndpoint(new EndpointSettings { Name = name, Mode = mode, Mac = new MacAddress(0x1a_00_00_00_00_00UL | i++), SpoofCheck = false });
    }

    public Endpoint this[string name] => Ep[name].Endpoint!;
    public MacAddress Mac(string name) => Ep[name].Mac;

    public void Wire(byte[] frame) { Net.ClearInboxes(); Net.InjectFromWire(frame); }
    public void Send(string from, byte[] frame) { Net.ClearInboxes(); Ep[from].Send(frame); }

    /// <summary>Names of the endpoints that received anything, sorted, plus "L" when the lower stack did.</summary>
    public string Got()
    {
        var names = Ep.Where(kv => kv.Value.Inbox.Count > 0).Select(kv => kv.Value.Inbox.Count > 1 ? $"{kv.Key}x{kv.Value.Inbox.Count}" : kv.Key).Order(StringComparer.Ordinal).ToList();
        if (Net.LowerStack.Inbox.Count > 0) names.Add("L");
        return string.Join(",", names);
    }

    public bool OnWire => Net.Wire.Count > 0;
}
