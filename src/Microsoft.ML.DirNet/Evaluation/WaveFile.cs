using Microsoft.ML.DirNet.Numerics;

namespace Microsoft.ML.DirNet.Evaluation;

/// <summary>Reads 16-bit PCM mono WAV files (the speech sample's format).</summary>
public static class WaveFile
{
    /// <summary>Returns the samples and the sample rate; refuses anything but 16-bit PCM mono, naming what it found.</summary>
    public static (short[] Samples, int SampleRate) ReadPcm16Mono(string path)
    {
        // A regular file only: a FIFO would block on open, a device would never end.
        using var reader = new BinaryReader(SafeFile.OpenRead(path, SafeFile.Plain(path)));
        string Tag() => new(reader.ReadChars(4));
        if (reader.BaseStream.Length < 12 || Tag() != "RIFF" || reader.ReadInt32() < 0 || Tag() != "WAVE")
        {
            throw new DirNetException($"'{path}' is not a RIFF/WAVE file.");
        }

        int? sampleRate = null;
        while (reader.BaseStream.Position + 8 <= reader.BaseStream.Length)
        {
            var id = Tag();
            var size = reader.ReadInt32();
            if (size < 0 || reader.BaseStream.Position + size > reader.BaseStream.Length)
            {
                throw new DirNetException($"'{path}' is truncated: chunk '{id}' declares {size} bytes.");
            }

            if (id == "fmt ")
            {
                var format = reader.ReadInt16();
                var channels = reader.ReadInt16();
                sampleRate = reader.ReadInt32();
                reader.ReadInt32();
                reader.ReadInt16();
                var bits = reader.ReadInt16();
                if (format != 1 || channels != 1 || bits != 16)
                {
                    throw new DirNetException($"'{path}' is format {format}, {channels} channel(s), {bits} bits; expected PCM (1), mono, 16 bits.");
                }

                reader.BaseStream.Position += size - 16;
            }
            else if (id == "data")
            {
                if (sampleRate is null)
                {
                    throw new DirNetException($"'{path}' has its data chunk before the fmt chunk.");
                }

                var samples = new short[size / 2];
                for (var i = 0; i < samples.Length; i++)
                {
                    samples[i] = reader.ReadInt16();
                }

                return (samples, sampleRate.Value);
            }
            else
            {
                reader.BaseStream.Position += size + (size & 1);
            }
        }

        throw new DirNetException($"'{path}' has no data chunk.");
    }
}
