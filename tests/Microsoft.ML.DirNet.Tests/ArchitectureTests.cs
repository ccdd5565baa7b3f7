using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using Microsoft.ML.DirNet.Runtime;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// The layers of ARCHITECTURE.md, bottom up, checked on the built library's metadata and IL: Numerics; Tensors, Onnx
/// and Weights; Compression; Export and Runtime; the ML.NET surface (the root namespaces, DataView); the tool helpers
/// (Evaluation, Benchmarking). No type may use a layer above its own. Runtime may use Export (the engine reads a
/// compressed file's factors through <c>CompressedOnnxReader</c>); Export may not use Runtime.
/// </summary>
/// <remarks>
/// NetArchTest.Rules 1.3.2 cannot check this library: it skips every type whose namespace starts with "Microsoft", so
/// its rules pass on nothing. The scan below reads what the IL really uses (base types, interfaces, signatures, locals,
/// attributes, every type, method and field token in method bodies, catch types). Constants the compiler inlines,
/// <c>nameof</c> and XML-doc references leave nothing in IL and are not seen.
/// </remarks>
public sealed class ArchitectureTests
{
    private const string Root = "Microsoft.ML.DirNet";
    private const string Numerics = Root + ".Numerics";
    private const string Tensors = Root + ".Tensors";
    private const string Onnx = Root + ".Onnx";
    private const string Weights = Root + ".Weights";
    private const string Compression = Root + ".Compression";
    private const string Export = Root + ".Export";
    private const string Runtime = Root + ".Runtime";
    private const string DataView = Root + ".DataView";
    private const string Evaluation = Root + ".Evaluation";
    private const string Benchmarking = Root + ".Benchmarking";
    private const string Cli = Root + ".Cli";

    /// <summary>The surface: the root namespace and Microsoft.ML (the catalog extension).</summary>
    private const string Surface = "surface";

    private static readonly Assembly Library = typeof(NativeModel).Assembly;

    private static readonly Lazy<IReadOnlyDictionary<string, IReadOnlySet<string>>> Dependencies = new(() => TypeDependencies.Of(Library.Location));

    /// <summary>Each layer (a namespace and those under it), with what it must not use: every layer above it.</summary>
    public static TheoryData<string, string[]> Rules => new()
    {
        { Numerics, [Tensors, Onnx, Weights, Compression, Export, Runtime, DataView, Evaluation, Benchmarking, Cli, Surface] },
        { Tensors, [Onnx, Weights, Compression, Export, Runtime, DataView, Evaluation, Benchmarking, Cli, Surface] },
        { Onnx, [Weights, Compression, Export, Runtime, DataView, Evaluation, Benchmarking, Cli, Surface] },
        { Weights, [Compression, Export, Runtime, DataView, Evaluation, Benchmarking, Cli, Surface] },
        { Compression, [Export, Runtime, DataView, Evaluation, Benchmarking, Cli, Surface] },
        { Export, [Runtime, DataView, Evaluation, Benchmarking, Cli, Surface] },
        { Runtime, [DataView, Evaluation, Benchmarking, Cli, Surface] },
        { DataView, [Evaluation, Benchmarking, Cli] },
        { Surface, [Evaluation, Benchmarking, Cli] },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void ALayerDoesNotUseTheLayersAboveIt(string layer, string[] above)
    {
        var types = Dependencies.Value.Keys.Where(t => In(t, layer)).ToArray();
        Assert.NotEmpty(types);
        var offending = types.Order(StringComparer.Ordinal)
            .SelectMany(t => Dependencies.Value[t].Where(d => above.Any(a => In(d, a))).Order(StringComparer.Ordinal).Select(d => $"{t} uses {d}"))
            .ToArray();
        Assert.True(offending.Length == 0, $"{layer} must not use {string.Join(", ", above)}; these types do:\n  " + string.Join("\n  ", offending));
    }

    [Fact]
    public void TheLibraryDoesNotReferenceTheCli()
    {
        var cli = typeof(Cli.Program).Assembly.GetName().Name;
        Assert.DoesNotContain(Library.GetReferencedAssemblies(), a => a.Name == cli);
    }

    [Fact]
    public void TheScanSeesWhatTheIlUses()
    {
        // A method body (the engine's constructor builds its kernels), a base type and a signature.
        Assert.Contains(Root + ".Runtime.OperatorRegistry", Dependencies.Value[Root + ".Runtime.NativeModel"]);
        Assert.Contains(Root + ".DirNetException", Dependencies.Value[Root + ".Onnx.OnnxFormatException"]);
        Assert.Contains(Root + ".Onnx.OnnxModel", Dependencies.Value[Root + ".Compression.CompressionResult"]);
    }

    /// <summary>
    /// Whether a type (full name) belongs to a layer: its namespace or one under it; for the surface, the root
    /// namespaces but <see cref="DirNetException"/>, the base of the library's errors, which every layer throws (its file
    /// lives in Numerics/; its namespace is public API that callers catch).
    /// </summary>
    private static bool In(string type, string layer)
    {
        var ns = type[..Math.Max(0, type.LastIndexOf('.'))];
        return layer == Surface
            ? ns is Root or "Microsoft.ML" && type != typeof(DirNetException).FullName
            : ns == layer || ns.StartsWith(layer + ".", StringComparison.Ordinal);
    }

    /// <summary>The types of an assembly and, for each (nested types counted with their outermost type), the assembly's own types it uses.</summary>
    private sealed class TypeDependencies : ISignatureTypeProvider<int, object?>
    {
        private static readonly IReadOnlyDictionary<ushort, OperandType> Operands = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(o => (ushort)o.Value, o => o.OperandType);

        private readonly MetadataReader _reader;
        private HashSet<string> _into = [];

        private TypeDependencies(MetadataReader reader) => _reader = reader;

        public static IReadOnlyDictionary<string, IReadOnlySet<string>> Of(string path)
        {
            using var pe = new PEReader(File.OpenRead(path));
            var reader = pe.GetMetadataReader();
            var scan = new TypeDependencies(reader);
            var result = new Dictionary<string, HashSet<string>>();
            foreach (var handle in reader.TypeDefinitions)
            {
                var name = scan.Name(handle);
                if (name.Contains('<'))
                {
                    continue; // <Module>, <PrivateImplementationDetails> and the like: no namespace, no layer
                }

                scan._into = result.TryGetValue(name, out var set) ? set : result[name] = [];
                scan.Collect(pe, handle);
                scan._into.Remove(name);
            }

            return result.ToDictionary(p => p.Key, p => (IReadOnlySet<string>)p.Value);
        }

        private void Collect(PEReader pe, TypeDefinitionHandle handle)
        {
            var type = _reader.GetTypeDefinition(handle);
            Use(type.BaseType);
            foreach (var i in type.GetInterfaceImplementations())
            {
                Use(_reader.GetInterfaceImplementation(i).Interface);
            }

            Attributes(type.GetCustomAttributes());
            Constraints(type.GetGenericParameters());
            foreach (var f in type.GetFields())
            {
                var field = _reader.GetFieldDefinition(f);
                field.DecodeSignature(this, null);
                Attributes(field.GetCustomAttributes());
            }

            foreach (var p in type.GetProperties())
            {
                _reader.GetPropertyDefinition(p).DecodeSignature(this, null);
            }

            foreach (var e in type.GetEvents())
            {
                Use(_reader.GetEventDefinition(e).Type);
            }

            foreach (var m in type.GetMethods())
            {
                var method = _reader.GetMethodDefinition(m);
                method.DecodeSignature(this, null);
                Attributes(method.GetCustomAttributes());
                Constraints(method.GetGenericParameters());
                if (method.RelativeVirtualAddress != 0)
                {
                    Body(pe.GetMethodBody(method.RelativeVirtualAddress));
                }
            }
        }

        private void Body(MethodBodyBlock body)
        {
            if (!body.LocalSignature.IsNil)
            {
                _reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(this, null);
            }

            foreach (var region in body.ExceptionRegions)
            {
                Use(region.CatchType);
            }

            var il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                ushort code = il.ReadByte();
                if (code == 0xFE)
                {
                    code = (ushort)(0xFE00 | il.ReadByte());
                }

                switch (Operands[code])
                {
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                        Use(MetadataTokens.EntityHandle(il.ReadInt32()));
                        break;
                    case OperandType.InlineSwitch:
                        var targets = il.ReadInt32();
                        il.Offset += 4 * targets;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    case OperandType.InlineBrTarget or OperandType.InlineI or OperandType.InlineSig or OperandType.InlineString or OperandType.ShortInlineR:
                        il.Offset += 4;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                }
            }
        }

        private void Attributes(CustomAttributeHandleCollection attributes)
        {
            foreach (var a in attributes)
            {
                Use(_reader.GetCustomAttribute(a).Constructor);
            }
        }

        private void Constraints(GenericParameterHandleCollection parameters)
        {
            foreach (var p in parameters)
            {
                foreach (var c in _reader.GetGenericParameter(p).GetConstraints())
                {
                    Use(_reader.GetGenericParameterConstraint(c).Type);
                }
            }
        }

        private void Use(EntityHandle handle)
        {
            if (handle.IsNil)
            {
                return;
            }

            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    _into.Add(Name((TypeDefinitionHandle)handle));
                    break;
                case HandleKind.TypeSpecification:
                    _reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null);
                    break;
                case HandleKind.MethodDefinition:
                    Use(_reader.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType());
                    break;
                case HandleKind.FieldDefinition:
                    Use(_reader.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType());
                    break;
                case HandleKind.MemberReference:
                    Use(_reader.GetMemberReference((MemberReferenceHandle)handle).Parent);
                    break;
                case HandleKind.MethodSpecification:
                    var specification = _reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    Use(specification.Method);
                    specification.DecodeSignature(this, null);
                    break;
            }
        }

        /// <summary>The full name of a type, or of its outermost declaring type when nested.</summary>
        private string Name(TypeDefinitionHandle handle)
        {
            var type = _reader.GetTypeDefinition(handle);
            while (type.IsNested)
            {
                type = _reader.GetTypeDefinition(type.GetDeclaringType());
            }

            var ns = _reader.GetString(type.Namespace);
            return ns.Length == 0 ? _reader.GetString(type.Name) : ns + "." + StripArity(_reader.GetString(type.Name));
        }

        private static string StripArity(string name) => name.IndexOf('`') is var tick and >= 0 ? name[..tick] : name;

        public int GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            _into.Add(Name(handle));
            return 0;
        }

        public int GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);

        public int GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => 0;

        public int GetPrimitiveType(PrimitiveTypeCode typeCode) => 0;

        public int GetSZArrayType(int elementType) => 0;

        public int GetArrayType(int elementType, ArrayShape shape) => 0;

        public int GetByReferenceType(int elementType) => 0;

        public int GetPointerType(int elementType) => 0;

        public int GetPinnedType(int elementType) => 0;

        public int GetGenericInstantiation(int genericType, ImmutableArray<int> typeArguments) => 0;

        public int GetGenericTypeParameter(object? genericContext, int index) => 0;

        public int GetGenericMethodParameter(object? genericContext, int index) => 0;

        public int GetFunctionPointerType(MethodSignature<int> signature) => 0;

        public int GetModifiedType(int modifier, int unmodifiedType, bool isRequired) => 0;
    }
}
