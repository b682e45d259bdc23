// Placeholder: the checker lands here (issue 12).
public enum Linearizability {}
