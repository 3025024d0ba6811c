/** Entry point of the console bundle (ui/index.html). */
import { render } from 'preact';
import { App } from './App';

const root = document.getElementById('app');
if (root === null) throw new Error('index.html has no #app element');
render(<App />, root);
