// Placeholder: the descriptor-driven proto3-JSON codec lands here (issue 10).
public enum ProtoJSON {}
