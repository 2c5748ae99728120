import { ensurePythonTools } from '../src/local/venv';

export default function globalSetup(): void {
  ensurePythonTools();
}
