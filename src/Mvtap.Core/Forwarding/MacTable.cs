// An immutable open-addressing hash table keyed by MAC address: the lookup on the forwarding
// path is a multiply, a shift and usually one probe, with no allocation.
using Mvtap.Core.Frames;

namespace Mvtap.Core.Forwarding;

public sealed class MacTable<T> where T : class
{
    private const ulong Empty = ulong.MaxValue; // no MAC has bits above 47 set
    private readonly ulong[] _keys;
    private readonly T?[] _values;
    private readonly int _shift;

    public static readonly MacTable<T> EmptyTable = new([]);

    public int Count { get; }

    public MacTable(IReadOnlyCollection<KeyValuePair<MacAddress, T>> entries)
    {
        int capacity = 8;
        while (capacity < entries.Count * 2) capacity <<= 1;
        _keys = new ulong[capacity];
        _values = new T?[capacity];
        Array.Fill(_keys, Empty);
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)capacity);
        foreach (var (mac, value) in entries)
        {
            int i = Slot(mac.Value);
            while (_keys[i] != Empty && _keys[i] != mac.Value) i = (i + 1) & (capacity - 1);
            if (_keys[i] == Empty) Count++;
            _keys[i] = mac.Value;
            _values[i] = value;
        }
    }

    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);

    public T? Find(MacAddress mac)
    {
        ulong key = mac.Value;
        var keys = _keys;
        int mask = keys.Length - 1;
        for (int i = Slot(key); ; i = (i + 1) & mask)
        {
            ulong k = keys[i];
            if (k == key) return _values[i];
            if (k == Empty) return null;
        }
    }
}
