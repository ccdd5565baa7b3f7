// The speech-recognition sample, in the style of an ML.NET Model Builder console app: load the shipped CTC recogniser
// (3 bidirectional GRU layers), compress it in an ML.NET pipeline with .CompressRnn() (DirNet, HMD and the baselines),
// export each compressed ONNX, and show size, latency per 10 ms frame (native engine and ONNX Runtime) and CER/WER
// before and after; then transcribe a test utterance with a compressed model through a PredictionEngine.
//
//   dotnet run --project samples/Asr -c Release [-- --update-readme]
//
// --update-readme writes the table and the demo's transcript into the results block of samples/Asr/README.md.
using DirNetSamples;
using Microsoft.ML;
using Spectre.Console;

CompressionShowcase.WidenRedirectedOutput();
var mlContext = new MLContext(seed: 0);
var showcase = SpeechShowcase.Showcase(mlContext);
AnsiConsole.MarkupLine($"[bold]Speech recogniser[/]: {Markup.Escape(SpeechShowcase.ModelPath)} (3-layer bidirectional GRU 256, CTC over 29 characters); CER and WER on the first {SpeechShowcase.TestUtterances} test utterances");
var fitted = showcase.Run(SpeechShowcase.FitData(mlContext), SpeechShowcase.Cases(), keep: SpeechShowcase.DemoCase);
showcase.PrintTable();
showcase.DrawPlot("Speech recogniser: CER against the size of the GRU weights");

// Consume a compressed model: transcribe the first test utterance.
var demo = $"{SpeechShowcase.DemoCase} on {SpeechShowcase.Transcription(mlContext, fitted[SpeechShowcase.DemoCase])}";
AnsiConsole.WriteLine(demo);
showcase.UpdateReadmeIfAsked(args, SpeechShowcase.ReadmePath, demo);
