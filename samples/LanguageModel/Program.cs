// The language-model sample, in the style of an ML.NET Model Builder console app: load the shipped LSTM language
// model, compress it in an ML.NET pipeline with .CompressRnn() (DirNet, HMD and the baselines), export each compressed
// ONNX, and show size, per-token latency (native engine and ONNX Runtime) and perplexity before and after; then use a
// compressed model through a PredictionEngine to guess the next word of a prompt.
//
//   dotnet run --project samples/LanguageModel -c Release [-- --update-readme]
//
// --update-readme writes the table and the demo's words into the results block of samples/LanguageModel/README.md.
using DirNetSamples;
using Microsoft.ML;
using Spectre.Console;

CompressionShowcase.WidenRedirectedOutput();
var mlContext = new MLContext(seed: 0);
var showcase = LanguageModelShowcase.Showcase(mlContext);
AnsiConsole.MarkupLine($"[bold]Language model[/]: {Markup.Escape(LanguageModelShowcase.ModelPath)} (2-layer LSTM 512, 10k words); perplexity on the first {LanguageModelShowcase.TestTokens:N0} test tokens");
var fitted = showcase.Run(LanguageModelShowcase.FitData(mlContext), LanguageModelShowcase.Cases(), keep: LanguageModelShowcase.DemoCase);
showcase.PrintTable();
showcase.DrawPlot("Language model: perplexity against the size of the LSTM weights");

// Consume a compressed model: the five likeliest next words after a prompt.
var words = LanguageModelShowcase.NextWords(mlContext, fitted[LanguageModelShowcase.DemoCase]);
var demo = $"{LanguageModelShowcase.DemoCase}, next word after \"{LanguageModelShowcase.Prompt}\": {words}";
AnsiConsole.WriteLine(demo);
showcase.UpdateReadmeIfAsked(args, LanguageModelShowcase.ReadmePath, demo);
